"""The outbox: an event exists exactly when its change was committed, whichever node (or
none) is running when it is delivered, and each is fanned out once over several nodes."""

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from live.db.models import OrderRow, WebhookEventRow
from live.db.unit import transaction
from tests.live.webhooks.conftest import FAST
from tests.live.webhooks.hooks import register
from tests.live.webhooks.receiver import Receiver
from tests.support.polling import eventually
from tests.support.servers import LiveServer, cluster, settings_for, start_server
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


async def _count(server: LiveServer, kind: str, brand: str) -> int:
    async with transaction(server.context.db) as db:
        found = await db.scalar(
            select(func.count())
            .select_from(WebhookEventRow)
            .where(WebhookEventRow.type == kind, WebhookEventRow.brand == brand)
        )
    return int(found or 0)


def _of(server: LiveServer, task: asyncio.Task[object]) -> bool:
    """Whether ``task`` runs ``server``'s dispatcher (several apps share the test process)."""
    frame = task.get_coro().cr_frame  # type: ignore[union-attr]
    return frame is not None and frame.f_locals.get("self") is server.context.webhooks


async def test_a_flash_crowd_writes_one_event_per_order_recorded(hooked: LiveServer) -> None:
    """40 buyers race for 10 units (some retrying their key): once the dispatcher has written
    them, order.reserved events match the order rows one for one: none for a refused buyer,
    none twice for a retried key."""
    opened = await open_session(hooked, stock=10, limit=None)

    async def buy(n: int) -> int:
        async with hooked.client(hooked.token("viewer", f"v{n}")) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"/api/sessions/{opened.session_id}/orders",
                        json={"product_id": opened.product_id, "qty": 1},
                        headers={"Idempotency-Key": f"k{n}"},
                    )
                    for _ in range(2)
                )
            )
        return answers[0].status_code

    codes = Counter(await asyncio.gather(*(buy(n) for n in range(40))))
    assert codes[201] == 10, codes
    async with transaction(hooked.context.db) as db:
        orders = await db.scalar(
            select(func.count()).select_from(OrderRow).where(OrderRow.brand == hooked.brand)
        )
    assert orders == 10

    async def converted() -> bool:
        # A new order is its own outbox entry until a dispatcher writes its event.
        async with transaction(hooked.context.db) as db:
            pending = await db.scalar(
                select(func.count())
                .select_from(OrderRow)
                .where(OrderRow.brand == hooked.brand, OrderRow.webhook_pending.is_(True))
            )
        return pending == 0

    await eventually(converted)
    assert await _count(hooked, "order.reserved", hooked.brand) == 10
    async with hooked.client(opened.host_token) as client:
        again = await client.post(f"/api/sessions/{opened.session_id}/start")
        assert again.status_code == 200
    assert await _count(hooked, "session.started", hooked.brand) == 1


async def test_events_written_while_no_node_delivers_arrive_later(
    tmp_path: Path, database_url: str, redis_url: str, receiver: Receiver
) -> None:
    """A node that records changes and never delivers them (its dispatcher gone, as if the
    node died after each commit) leaves them in the outbox: the next node delivers each one."""
    sleepy = await start_server(
        settings_for(
            tmp_path / "a",
            database_url=database_url,
            redis_url=redis_url,
            **FAST,
        )
    )
    try:
        await register(sleepy, receiver, "later", event_types=["session.scheduled"])
        # The node's dispatcher ends before the changes, as if the node died right after
        # each commit: only the outbox rows are left.
        (dispatching,) = [
            t
            for t in asyncio.all_tasks()
            if t.get_name() == "webhook-dispatcher" and not t.done() and _of(sleepy, t)
        ]
        dispatching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dispatching
        async with sleepy.client(sleepy.token("host", "h1")) as client:
            for n in range(5):
                assert (
                    await client.post("/api/sessions", json={"title": f"{n}"})
                ).status_code == 201
        brand = sleepy.brand
    finally:
        await sleepy.stop()
    assert receiver.of("later") == []
    awake = await start_server(
        settings_for(tmp_path / "b", database_url=database_url, redis_url=redis_url, **FAST)
    )
    try:
        awake.brand = brand
        got = await receiver.wait_for("later", 5, timeout_s=5 * UNIT_S)
        assert len({d.webhook_id for d in got}) == 5
    finally:
        await awake.stop()


async def test_two_nodes_fan_each_event_out_once(
    tmp_path: Path, database_url: str, redis_url: str, receiver: Receiver
) -> None:
    """Two nodes dispatching the same outbox create one delivery per event and endpoint; the
    receiver gets each event once when it answers at once."""
    async with cluster(
        tmp_path, 2, database_url=database_url, redis_url=redis_url, **FAST
    ) as nodes:
        endpoint = await register(nodes[0], receiver, "both", event_types=["session.scheduled"])
        async with nodes[1].client(nodes[1].token("host", "h1")) as client:
            made = await asyncio.gather(
                *(client.post("/api/sessions", json={"title": f"{n}"}) for n in range(40))
            )
        assert {answer.status_code for answer in made} == {201}
        await receiver.wait_until(
            lambda: len({d.webhook_id for d in receiver.of("both")}) == 40, timeout_s=10 * UNIT_S
        )
        async with nodes[0].client(nodes[0].token("admin", "admin-1")) as client:

            async def all_delivered() -> bool:
                page = await client.get(
                    f"/api/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries?limit=200"
                )
                items = page.json()["items"]
                return len(items) == 40 and {d["status"] for d in items} == {"delivered"}

            await eventually(all_delivered)
    ids = Counter(d.webhook_id for d in receiver.of("both"))
    assert set(ids.values()) == {1}, "a healthy receiver gets no duplicate"
