"""Operating a node: request ids, readiness, Prometheus metrics and graceful shutdown."""

import re

import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from replay.keys import archive_lock
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import OpenSession, open_session


async def test_request_ids_are_kept_or_made(server: LiveServer) -> None:
    """A caller's well-formed X-Request-Id comes back; a missing or hostile one is replaced."""
    async with server.client() as client:
        kept = await client.get("/healthz", headers={"X-Request-Id": "lb-42.a_b"})
        made = await client.get("/healthz")
        hostile = await client.get("/healthz", headers={"X-Request-Id": "x\tinjected line"})
    assert kept.headers["x-request-id"] == "lb-42.a_b"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])


async def test_readiness_exercises_engines_and_loads_scripts(server: LiveServer) -> None:
    """/readyz checks the database, Redis and the Lua scripts; a draining node is not ready."""
    async with server.client() as client:
        first = await client.get("/readyz")
        second = await client.get("/readyz")
        assert first.status_code == 200, first.text
        checks = second.json()["checks"]
        assert checks["database"] == checks["redis"] == checks["draining"] == "ok"
        assert re.fullmatch(r"ok \((\d+) scripts, 0 loaded now\)", checks["scripts"])
        assert int(checks["scripts"].split("(")[1].split()[0]) >= 10
        server.context.draining.set()
        draining = await client.get("/readyz")
        server.context.draining.clear()
    assert draining.status_code == 503
    assert draining.json()["checks"]["draining"] == "yes"


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


async def test_metrics_count_frames_orders_ticks_and_answers(
    server: LiveServer, opened: OpenSession
) -> None:
    """After a viewer joins and buys, the counters and histograms show it."""
    viewer_token = server.token("viewer", "buyer")
    room = await Room.join(server.ws_url(opened.session_id, viewer_token))
    await room.wait_type("snapshot")
    async with server.client(viewer_token) as viewer:
        bought = await viewer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "m1"},
        )
        assert bought.status_code == 201
        await room.wait_type("stock")

        async def ticked() -> bool:
            text = (await viewer.get("/metrics")).text
            return _sample(text, "live_tick_lag_seconds_count") > 0

        await eventually(ticked)
        text = (await viewer.get("/metrics")).text
    assert _sample(text, "live_room_sockets") == 1
    assert _sample(text, "live_frames_sent_total") >= 2
    # The snapshot waits for the writer task; the room's frames to a reading viewer do not.
    assert _sample(text, "live_frames_queued_total") < _sample(text, "live_frames_sent_total")
    assert _sample(text, "live_order_admission_seconds_count") == 1
    assert _sample(text, 'live_order_admission_seconds_bucket{le="+Inf"}') == 1
    assert _sample(text, 'live_http_responses_total{status="201"}') >= 3
    assert "# TYPE live_frames_dropped_total counter" in text
    await room.close()


async def test_archive_lag_counts_the_events_not_yet_stored(server_with: ServerWith) -> None:
    """``live_archive_lag_events`` counts a session's events the archiver has read but not
    stored (here its segments neither fill nor age), and forgets the session once archived."""
    node = await server_with(archive_segment_events=10_000, archive_segment_ms=3_600_000)
    opened = await open_session(node)
    session = f"/api/sessions/{opened.session_id}"
    lag = node.context.archiver.lag_events
    async with node.client(opened.host_token) as host:
        for _ in range(3):
            assert (
                await host.post(f"{session}/pin", json={"product_id": opened.product_id})
            ).is_success
            assert (await host.delete(f"{session}/pin")).is_success

        async def counted() -> bool:
            return lag.get(opened.session_id, 0) >= 6

        await eventually(counted, what="the six pin events in the archive lag")
        text = (await host.get("/metrics")).text
        # Other sessions of the shared Redis may lag on this node too: at least this one's.
        assert _sample(text, "live_archive_lag_events") >= lag[opened.session_id]
        assert (await host.post(f"{session}/end")).is_success

        async def archived() -> bool:
            return opened.session_id not in lag

        await eventually(archived, what="the session archived and its lag forgotten")


async def _close_of(room: Room) -> tuple[int, str] | None:
    """The close code and reason the server sent, reading every frame before it."""
    try:
        while True:
            await room.next_frame()
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else None


async def test_graceful_shutdown_tells_viewers_to_reconnect_and_hands_over_the_archive(
    server_with: ServerWith, redis: aioredis.Redis
) -> None:
    """Stopping a node closes its viewers with 4101 (reconnect) after their queued frames, and
    releases its archive leases so another node can take the session over at once."""
    node = await server_with()
    opened = await open_session(node)
    room = await Room.join(node.ws_url(opened.session_id, node.token("viewer", "v")))
    await room.wait_type("snapshot")
    async with node.client(opened.host_token) as host:
        pinned = await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        assert pinned.status_code == 200
    lock = archive_lock(opened.session_id)

    async def leased() -> bool:
        return bool(await redis.exists(lock))

    await eventually(leased, what="the node's archive lease")
    await node.stop()
    assert node.context.draining.is_set()
    assert not await redis.exists(lock)
    assert await _close_of(room) == (4101, "server restarting: reconnect")
    assert any(frame["type"] == "pin" for frame in room.frames), "queued frames go out first"
