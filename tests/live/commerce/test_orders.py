"""Orders under contention: never oversell, never exceed a limit, never buy twice per key."""

import asyncio
from collections import Counter

import httpx
import orjson
from sqlalchemy import func, select

from live.db.engine import create_engine, session_factory
from live.db.models import OrderRow, ProductRow
from tests.support.clients import sign
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

BUYERS = 300
UNITS = 40


async def _buy(
    client: httpx.AsyncClient,
    server: LiveServer,
    session_id: str,
    product_id: str,
    viewer: str,
    key: str,
) -> httpx.Response:
    return await client.post(
        f"/api/sessions/{session_id}/orders",
        json={"product_id": product_id, "qty": 1},
        headers={
            "Authorization": f"Bearer {server.token('viewer', viewer)}",
            "Idempotency-Key": key,
        },
    )


async def _record(server: LiveServer, product_id: str) -> tuple[int, int]:
    engine = create_engine(server.settings.database_url)
    try:
        async with session_factory(engine)() as db:
            product = await db.get(ProductRow, product_id)
            assert product is not None
            orders = await db.scalar(
                select(func.count()).select_from(OrderRow).where(OrderRow.product_id == product_id)
            )
        return product.committed_qty, int(orders or 0)
    finally:
        await engine.dispose()


async def test_300_buyers_for_40_units(server: LiveServer) -> None:
    """300 concurrent buyers, limit 1: exactly 40 reserved, all others sold_out."""
    opened = await open_session(server, stock=UNITS, limit=1)
    # httpx scans its whole queue on every hand-off: keep the queue short (see
    # tests/live/commerce/buyers.py).
    gate = asyncio.Semaphore(32)

    async def buy(n: int) -> httpx.Response:
        async with gate:
            return await _buy(
                client, server, opened.session_id, opened.product_id, f"v{n}", f"k{n}"
            )

    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=60 * UNIT_S, limits=limits
    ) as client:
        answers = await asyncio.gather(*(buy(n) for n in range(BUYERS)))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: UNITS, 409: BUYERS - UNITS}
    codes = Counter(a.json()["error"]["code"] for a in answers if a.status_code == 409)
    assert codes == {"sold_out": BUYERS - UNITS}
    buyers = [a.json()["order_id"] for a in answers if a.status_code == 201]
    assert len(set(buyers)) == UNITS
    assert await _record(server, opened.product_id) == (UNITS, UNITS)


async def test_limit_holds_under_concurrent_attempts_of_one_viewer(server: LiveServer) -> None:
    """One viewer firing 20 orders at once with a limit of 2 gets exactly 2."""
    opened = await open_session(server, stock=100, limit=2)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60 * UNIT_S) as client:
        answers = await asyncio.gather(
            *(
                _buy(client, server, opened.session_id, opened.product_id, "greedy", f"g{n}")
                for n in range(20)
            )
        )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 2, 409: 18}
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "limit_exceeded"
    }
    assert await _record(server, opened.product_id) == (2, 2)


async def test_same_idempotency_key_returns_the_same_order(server: LiveServer) -> None:
    """Retries with one key, even concurrent ones, return one order; another body is refused."""
    opened = await open_session(server, stock=5, limit=5)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60 * UNIT_S) as client:
        answers = await asyncio.gather(
            *(
                _buy(client, server, opened.session_id, opened.product_id, "retry", "same-key")
                for _ in range(10)
            )
        )
        assert {a.status_code for a in answers} == {201}
        assert len({a.json()["order_id"] for a in answers}) == 1
        other_body = await client.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 2},
            headers={
                "Authorization": f"Bearer {server.token('viewer', 'retry')}",
                "Idempotency-Key": "same-key",
            },
        )
        assert other_body.status_code == 422
        assert other_body.json()["error"]["code"] == "idempotency_key_reused"
    assert await _record(server, opened.product_id) == (1, 1)


async def test_sold_out_answer_is_repeated_for_its_key(server: LiveServer) -> None:
    """A refused order's key repeats the refusal."""
    opened = await open_session(server, stock=1, limit=1)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60 * UNIT_S) as client:
        first = await _buy(client, server, opened.session_id, opened.product_id, "a", "ka")
        assert first.status_code == 201
        refused = await _buy(client, server, opened.session_id, opened.product_id, "b", "kb")
        again = await _buy(client, server, opened.session_id, opened.product_id, "b", "kb")
    assert refused.json() == again.json()
    assert again.json()["error"]["code"] == "sold_out"


async def test_payment_is_amount_checked(server: LiveServer) -> None:
    """A notification with the wrong amount is refused and the order stays reserved."""
    opened = await open_session(server, stock=2, limit=2, price_cents=500)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60 * UNIT_S) as client:
        placed = await _buy(client, server, opened.session_id, opened.product_id, "p", "kp")
        order_id = placed.json()["order_id"]
        body = orjson.dumps(
            {"order_id": order_id, "paid_amount_cents": 1, "provider_txn_id": "t-short"}
        )
        short = await client.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
        assert short.status_code == 409
        assert short.json()["error"]["code"] == "amount_mismatch"
        unsigned = await client.post("/api/payments/notify", content=body)
        assert unsigned.json()["error"]["code"] == "bad_signature"
        mine = await client.get(
            f"/api/orders/{order_id}",
            headers={"Authorization": f"Bearer {server.token('viewer', 'p')}"},
        )
        assert mine.json()["status"] == "reserved"


async def test_retry_after_the_session_ended_returns_the_order(server: LiveServer) -> None:
    """A retried key gets its order back even once the session has ended; a new key does not."""
    opened = await open_session(server, stock=3, limit=3)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60 * UNIT_S) as client:
        first = await _buy(client, server, opened.session_id, opened.product_id, "late", "kk")
        async with server.client(opened.host_token) as host:
            await host.post(f"/api/sessions/{opened.session_id}/end")
        again = await _buy(client, server, opened.session_id, opened.product_id, "late", "kk")
        fresh = await _buy(client, server, opened.session_id, opened.product_id, "late", "new")
    assert again.status_code == 201
    assert again.json()["order_id"] == first.json()["order_id"]
    assert fresh.json()["error"]["code"] == "session_ended"
