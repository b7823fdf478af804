"""Order terms come from a per-node cache: refused attempts of a flash crowd run no SQL, and a
change of terms on another node applies to the very next order, never to a cached one."""

from pathlib import Path

import httpx

from live.platform.clock import now_ms
from tests.live.commerce.buyers import crowd
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith, cluster, statements_with
from tests.support.sessions import open_session


async def _buy(node: LiveServer, session_id: str, product_id: str, viewer: str) -> httpx.Response:
    async with node.client(node.token("viewer", viewer)) as client:
        return await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": f"{viewer}-{now_ms()}"},
        )


#: The app's background loops (`live.app`); their SQL is not the request path's.
BACKGROUND_TASKS = frozenset(
    {
        "archiver",
        "hold-reaper",
        "clip-order-reaper",
        "sale-closer",
        "redis-recovery",
        "stock-invariant",
        "webhook-dispatcher",
        "reservation-reminders",
        "metrics-sampler",
    }
)


async def test_refused_attempts_run_no_sql(server: LiveServer) -> None:
    """Once the terms are cached, sold-out and over-limit attempts are answered from Redis."""
    opened = await open_session(server, stock=1, limit=1)
    first = await _buy(server, opened.session_id, opened.product_id, "winner")
    assert first.status_code == 201, first.text
    with statements_with(server, except_tasks=BACKGROUND_TASKS) as statements:
        for n in range(20):
            refused = await _buy(server, opened.session_id, opened.product_id, f"late{n}")
            assert refused.json()["error"]["code"] == "sold_out"
        again = await _buy(server, opened.session_id, opened.product_id, "winner")
        assert again.json()["error"]["code"] in ("limit_exceeded", "sold_out")
    assert statements == []
    # The probe does see request SQL: reading the winner's order goes to the record.
    with statements_with(server, except_tasks=BACKGROUND_TASKS) as statements:
        async with server.client(server.token("viewer", "winner")) as winner:
            read = await winner.get(f"/api/orders/{first.json()['order_id']}")
            assert read.status_code == 200, read.text
    assert statements


async def test_a_change_on_another_node_applies_to_the_next_order(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """Node 0 has cached the terms; node 1 opens a sale, closes it, ends the session: each
    change holds for node 0's very next order."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        buyer_node, host_node = nodes
        opened = await open_session(host_node, stock=10, limit=None, price_cents=10_000)
        regular = await _buy(buyer_node, opened.session_id, opened.product_id, "a")
        assert regular.json()["unit_price_cents"] == 10_000
        async with host_node.client(opened.host_token) as host:
            sale = await host.post(
                f"/api/sessions/{opened.session_id}/sales",
                json={
                    "product_id": opened.product_id,
                    "sale_price_cents": 4_900,
                    "duration_s": 600,
                    "stock_cap": 5,
                },
            )
            assert sale.status_code == 201, sale.text
            in_sale = await _buy(buyer_node, opened.session_id, opened.product_id, "b")
            assert in_sale.json()["unit_price_cents"] == 4_900
            await host.post(
                f"/api/sessions/{opened.session_id}/sales/{sale.json()['sale_id']}/close"
            )
            after_sale = await _buy(buyer_node, opened.session_id, opened.product_id, "c")
            assert after_sale.json()["unit_price_cents"] == 10_000
            ended = await host.post(f"/api/sessions/{opened.session_id}/end")
            assert ended.status_code == 200, ended.text
            late = await _buy(buyer_node, opened.session_id, opened.product_id, "d")
            assert late.json()["error"]["code"] == "session_ended"


async def test_a_session_started_elsewhere_sells_at_once(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """A node that cached the session as a draft sells as soon as another node starts it."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        buyer_node, host_node = nodes
        async with host_node.client(host_node.token("host", "h")) as host:
            session_id = (await host.post("/api/sessions", json={"title": "t"})).json()["id"]
            product = await host.post(
                f"/api/sessions/{session_id}/products",
                json={"sku": "S", "title": "s", "price_cents": 100, "stock": 3},
            )
            product_id = product.json()["product_id"]
            early = await _buy(buyer_node, session_id, product_id, "early")
            assert early.json()["error"]["code"] == "session_not_live"
            started = await host.post(f"/api/sessions/{session_id}/start")
            assert started.status_code == 200, started.text
        on_time = await _buy(buyer_node, session_id, product_id, "early")
        assert on_time.status_code == 201, on_time.text


async def test_another_brand_never_reads_cached_terms(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """A cached product of one brand is ``not_found`` for a viewer of another brand."""
    async with cluster(tmp_path, 1, database_url=database_url, redis_url=redis_url) as nodes:
        node = nodes[0]
        opened = await open_session(node, stock=5)
        assert (await _buy(node, opened.session_id, opened.product_id, "own")).status_code == 201
        node.brand = "other-brand"
        stranger = await _buy(node, opened.session_id, opened.product_id, "stranger")
        assert stranger.status_code == 404
        assert stranger.json()["error"]["code"] == "not_found"


async def test_more_buyers_than_redis_connections_wait_for_one(server_with: ServerWith) -> None:
    """A crowd larger than the Redis pool queues for connections: nobody gets ``unavailable``."""
    node = await server_with(redis_max_connections=8)
    opened = await open_session(node, stock=20, limit=1)
    outcome = await crowd([node], opened.session_id, opened.product_id, buyers=200, in_flight=200)
    assert len(outcome.orders) == 20
    assert set(outcome.refused.values()) == {"sold_out"}
    assert len(outcome.refused) == 180
    assert outcome.attempts == 200


async def test_a_price_change_reaches_viewers_orders_and_the_archive(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """The host changes a price on one node: viewers get ``price``, the very next order on the
    other node pays it, and the replay's product script has it."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        buyer_node, host_node = nodes
        opened = await open_session(host_node, stock=10, limit=None, price_cents=10_000)
        before = await _buy(buyer_node, opened.session_id, opened.product_id, "a")
        assert before.json()["unit_price_cents"] == 10_000
        room = await Room.join(
            buyer_node.ws_url(opened.session_id, buyer_node.token("viewer", "w"))
        )
        await room.wait_type("snapshot")
        async with host_node.client(opened.host_token) as host:
            changed = await host.patch(
                f"/api/sessions/{opened.session_id}/products/{opened.product_id}",
                json={"price_cents": 8_800},
            )
            assert changed.json()["price_cents"] == 8_800, changed.text
            negative = await host.patch(
                f"/api/sessions/{opened.session_id}/products/{opened.product_id}",
                json={"price_cents": -1},
            )
            assert negative.json()["error"]["code"] == "invalid_request"
        event = await room.wait_type("price")
        assert (event["product_id"], event["price_cents"]) == (opened.product_id, 8_800)
        after = await _buy(buyer_node, opened.session_id, opened.product_id, "b")
        assert after.json()["unit_price_cents"] == 8_800
        await room.close()
        async with host_node.client(opened.host_token) as host:
            await host.post(f"/api/sessions/{opened.session_id}/end")

            async def archived() -> bool:
                answer = await host.get(f"/api/sessions/{opened.session_id}/replay")
                return answer.status_code == 200

            await eventually(archived)
            replay = (await host.get(f"/api/sessions/{opened.session_id}/replay")).json()
        prices = [e for e in replay if e["type"] == "price"]
        # The very event viewers got, at the same point of the session's timeline.
        assert [(e["price_cents"], e["t_ms"]) for e in prices] == [(8_800, event["t_ms"])]
