"""``live inventory check SESSION`` and the invariant gauge: stock + held + sold == allocation."""

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest

from inventory import keys
from live.cli.main import main
from live.commerce import stock_invariant
from tests.support.clients import sign
from tests.support.servers import PAYMENT_SECRET, SECRET, LiveServer
from tests.support.sessions import open_session


@pytest.fixture
def cli_env(server: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI's environment pointing at the server's engines."""
    settings = server.settings
    assert settings.redis_url is not None
    monkeypatch.setenv("LIVE_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("LIVE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LIVE_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("LIVE_ARCHIVE_URL", settings.archive_url)
    monkeypatch.setenv("LIVE_SECRET", SECRET)
    monkeypatch.setenv("LIVE_PAYMENT_SECRET", PAYMENT_SECRET)


async def test_check_passes_then_reports_a_drift(
    server: LiveServer, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0 on a consistent sale; exit 1 naming the product once Redis drifts."""
    opened = await open_session(server, stock=5, limit=5)
    async with server.client(server.token("viewer", "c")) as buyer:
        await buyer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 2},
            headers={"Idempotency-Key": "c1"},
        )
    assert await asyncio.to_thread(main, ["inventory", "check", opened.session_id]) == 0
    assert "stock 3 + held 2 + sold 0 vs allocation 5: ok" in capsys.readouterr().out
    ctx = server.context
    await ctx.redis.hincrby(keys.stock(opened.session_id), opened.product_id, 1)
    assert await asyncio.to_thread(main, ["inventory", "check", opened.session_id]) == 1
    report = capsys.readouterr().out
    assert f"{opened.product_id} (SKU-1): stock 4 + held 2 + sold 0" in report
    assert "INCONSISTENT" in report
    assert await ctx.stock_watch.once() >= 1
    async with server.client() as client:
        metrics = (await client.get("/metrics")).text
    assert "live_stock_invariant_broken 0" not in metrics


async def test_an_open_sale_cap_is_checked_too(server: LiveServer) -> None:
    """An open flash sale's cap gets its own line: cap field + held + paid == stock_cap."""
    opened = await open_session(server, stock=10, limit=5)
    ctx = server.context
    async with server.client(opened.host_token) as host:
        answer = await host.post(
            f"/api/sessions/{opened.session_id}/sales",
            json={
                "product_id": opened.product_id,
                "sale_price_cents": 500,
                "duration_s": 600,
                "stock_cap": 4,
            },
        )
        assert answer.status_code == 201, answer.text
    sale_id = answer.json()["sale_id"]
    async with server.client(server.token("viewer", "s")) as buyer:
        placed = await buyer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 3},
            headers={"Idempotency-Key": "s1"},
        )
        assert placed.status_code == 201, placed.text
    body = orjson.dumps(
        {
            "order_id": placed.json()["order_id"],
            "paid_amount_cents": 1_500,
            # Unique: the PostgreSQL run shares one database across the suite.
            "provider_txn_id": f"txn-{uuid.uuid4().hex}",
        }
    )
    async with server.client() as provider:
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
        assert paid.status_code == 200, paid.text
    lines = {
        line.counter: line
        for line in await stock_invariant.check(ctx.db, ctx.redis, opened.session_id)
    }
    cap = lines[keys.sale_field(sale_id)]
    assert (cap.stock, cap.held, cap.sold, cap.allocation) == (1, 0, 3, 4)
    assert cap.consistent
    assert lines[opened.product_id].consistent
    await ctx.redis.hincrby(keys.stock(opened.session_id), keys.sale_field(sale_id), 1)
    drifted = await stock_invariant.check(ctx.db, ctx.redis, opened.session_id, readings=1)
    broken = [line for line in drifted if not line.consistent]
    assert [line.counter for line in broken] == [keys.sale_field(sale_id)]
    assert f"{keys.sale_field(sale_id)} cap of {opened.product_id}" in broken[0].describe()


async def test_a_pass_of_a_stopping_node_ends_between_sessions(server: LiveServer) -> None:
    """A session drifts: a pass of a running node reports it; once the node is stopping, a
    pass checks no further session and returns, so that shutdown does not wait for a pass
    over every live session (each drifting one re-read three times)."""
    opened = await open_session(server, stock=5, limit=5)
    ctx = server.context
    await ctx.redis.hincrby(keys.stock(opened.session_id), opened.product_id, 1)
    watch = stock_invariant.Watch(ctx.db, ctx.redis)
    assert await watch.once() >= 1
    stopping = asyncio.Event()
    stopping.set()
    await asyncio.wait_for(watch.run(stopping), 10)
    assert await watch.once() == 0
