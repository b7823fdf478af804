"""Every write endpoint is rate limited per caller: 429 rate_limited with Retry-After, reads and
other callers unaffected, the payment provider's callback exempt."""

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from live.api.write_limits import WriteRateLimit
from tests.support.clocks import HandClock
from tests.support.servers import LiveServer, ServerWith


@pytest.fixture
async def strict(server_with: ServerWith) -> LiveServer:
    """A node allowing 3 writes in a burst, then one per 100 s: no refill during a test, however
    slow the machine."""
    return await server_with(write_rate_per_s=0.01, write_burst=3)


async def test_writes_beyond_the_burst_get_429_with_retry_after(strict: LiveServer) -> None:
    """The fourth quick write is refused with a catalog code; reads and other users go on."""
    async with strict.client(strict.token("host", "busy")) as busy:
        for n in range(3):
            created = await busy.post("/api/sessions", json={"title": f"s{n}"})
            assert created.status_code == 201, created.text
        refused = await busy.post("/api/sessions", json={"title": "one too many"})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 100
        # Reads are not limited.
        read = await busy.get(f"/api/sessions/{created.json()['id']}")
        assert read.status_code == 200
        bad_verb = await busy.delete(f"/api/sessions/{created.json()['id']}/pin")
        assert bad_verb.status_code == 429
    async with strict.client(strict.token("host", "calm")) as calm:
        assert (await calm.post("/api/sessions", json={"title": "mine"})).status_code == 201
    async with strict.client() as provider:
        for _ in range(5):
            notify = await provider.post("/api/payments/notify", content=b"{}")
            assert notify.status_code != 429


async def test_the_bucket_refills() -> None:
    """After Retry-After the caller may write again, not before (one write, then one per 4 s,
    on a clock the test moves)."""
    clock = HandClock(1_000.0)

    async def created(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("created", status_code=201)(scope, receive, send)

    limited = WriteRateLimit(created, rate_per_s=0.25, burst=1, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited),
        base_url="http://live.test",
        headers={"Authorization": "Bearer patient"},
    ) as host:
        assert (await host.post("/api/sessions")).status_code == 201
        refused = await host.post("/api/sessions")
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "4")
        clock.advance(3.5)
        assert (await host.post("/api/sessions")).status_code == 429
        clock.advance(0.5)
        assert (await host.post("/api/sessions")).status_code == 201


async def test_callers_without_a_token_share_their_address_bucket(strict: LiveServer) -> None:
    """Anonymous writes are limited per client address (they are refused 401 until then)."""
    async with strict.client() as anonymous:
        codes = [(await anonymous.post("/api/sessions", json={})).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
