"""Every write endpoint is rate limited per caller: 429 rate_limited with Retry-After, reads and
other callers unaffected, the payment provider's callback exempt."""

import pytest

from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith


@pytest.fixture
async def strict(server_with: ServerWith) -> LiveServer:
    """A node allowing 3 writes in a burst, then one per 100 s: no refill during a test, however
    slow the machine."""
    return await server_with(write_rate_per_s=0.01, write_burst=3)


@pytest.fixture
async def refilling(server_with: ServerWith) -> LiveServer:
    """A node allowing one write, then one per 4 s."""
    return await server_with(write_rate_per_s=0.25, write_burst=1)


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


async def test_the_bucket_refills(refilling: LiveServer) -> None:
    """After Retry-After the caller may write again."""
    async with refilling.client(refilling.token("host", "patient")) as host:
        statuses = [
            (await host.post("/api/sessions", json={"title": "t"})).status_code for _ in range(2)
        ]
        assert statuses == [201, 429]

        async def writes_again() -> bool:
            answer = await host.post("/api/sessions", json={"title": "later"})
            return answer.status_code == 201

        await eventually(writes_again)


async def test_callers_without_a_token_share_their_address_bucket(strict: LiveServer) -> None:
    """Anonymous writes are limited per client address (they are refused 401 until then)."""
    async with strict.client() as anonymous:
        codes = [(await anonymous.post("/api/sessions", json={})).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
