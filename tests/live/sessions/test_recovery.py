"""A viewer reconnecting with ``since`` gets exactly the durable events it missed."""

from pathlib import Path

from redis.asyncio import Redis

from tests.support.clients import Room
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import OpenSession, open_session


async def test_since_replays_missed_events(server: LiveServer, opened: OpenSession) -> None:
    """Events published while a viewer was away arrive on reconnect, in order, no snapshot."""
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "r")))
    snapshot = await room.wait_type("snapshot")
    await room.close()
    async with server.client(opened.host_token) as host:
        for _ in range(3):
            await host.post(
                f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
            )
            await host.delete(f"/api/sessions/{opened.session_id}/pin")
    back = await Room.join(
        server.ws_url(opened.session_id, server.token("viewer", "r"), since=snapshot["seq"])
    )
    missed = [await back.next_frame() for _ in range(6)]
    assert [f["type"] for f in missed] == ["pin", "unpin"] * 3
    assert [f["seq"] for f in missed] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 7))
    assert all(f["type"] != "snapshot" for f in back.frames)
    await back.close()


async def test_since_from_the_future_gets_a_snapshot(
    server: LiveServer, opened: OpenSession
) -> None:
    """A ``since`` the server never reached (an old epoch) is answered with a fresh snapshot."""
    room = await Room.join(
        server.ws_url(opened.session_id, server.token("viewer", "f"), since=10_000)
    )
    assert (await room.next_frame())["type"] == "snapshot"
    await room.close()


async def test_far_behind_viewer_gets_a_snapshot_not_a_drop(
    server: LiveServer, opened: OpenSession
) -> None:
    """A viewer that missed more events than its backlog allows gets a snapshot instead."""
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "far")))
    snapshot = await room.wait_type("snapshot")
    await room.close()
    missed = server.settings.backlog_soft_frames + 10
    async with server.client(opened.host_token) as host:
        for _ in range(missed // 2 + 1):
            await host.post(
                f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
            )
            await host.delete(f"/api/sessions/{opened.session_id}/pin")
    back = await Room.join(
        server.ws_url(opened.session_id, server.token("viewer", "far"), since=snapshot["seq"])
    )
    fresh = await back.next_frame()
    assert fresh["type"] == "snapshot"
    assert fresh["seq"] >= snapshot["seq"] + missed
    await back.close()


async def test_missed_stock_changes_arrive_folded(server: LiveServer) -> None:
    """Stock events missed while away arrive as one frame with the latest level."""
    opened = await open_session(server, stock=10, limit=5)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "s")))
    snapshot = await room.wait_type("snapshot")
    await room.close()
    async with server.client(server.token("viewer", "buyer")) as buyer:
        for n in range(3):
            answer = await buyer.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": f"fold-{n}"},
            )
            assert answer.status_code == 201
    back = await Room.join(
        server.ws_url(opened.session_id, server.token("viewer", "s"), since=snapshot["seq"])
    )
    stock = await back.wait_type("stock")
    assert stock["levels"] == {opened.product_id: 7}
    assert "seq" not in stock
    await back.close()


async def test_since_survives_an_app_restart(server_with: ServerWith, data_dir: Path) -> None:
    """A viewer of a restarted app catches up with ``since`` from the shared streams."""
    first = await server_with(data_dir=data_dir)
    opened = await open_session(first)
    room = await Room.join(first.ws_url(opened.session_id, first.token("viewer", "r")))
    snapshot = await room.wait_type("snapshot")
    await room.close()
    async with first.client(opened.host_token) as host:
        await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
    await first.stop()
    second = await server_with(data_dir=data_dir)
    second.brand = first.brand
    back = await Room.join(
        second.ws_url(
            opened.session_id,
            second.token("viewer", "r"),
            since=snapshot["seq"],
            epoch=snapshot["epoch"],
        )
    )
    pin = await back.next_frame()
    assert (pin["type"], pin["seq"]) == ("pin", snapshot["seq"] + 1)
    await back.close()


async def test_trimmed_history_gets_a_snapshot(
    server: LiveServer, opened: OpenSession, redis: Redis
) -> None:
    """When the events a viewer missed were trimmed from the stream, it gets a snapshot."""
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "t")))
    snapshot = await room.wait_type("snapshot")
    await room.close()
    async with server.client(opened.host_token) as host:
        for _ in range(3):
            await host.post(
                f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
            )
    stream = f"live:{{{opened.session_id}}}:events"
    await redis.xtrim(stream, minid=f"{snapshot['seq'] + 2}-0", approximate=False)
    back = await Room.join(
        server.ws_url(opened.session_id, server.token("viewer", "t"), since=snapshot["seq"])
    )
    fresh = await back.next_frame()
    assert fresh["type"] == "snapshot"
    assert fresh["seq"] == snapshot["seq"] + 3
    await back.close()


async def test_another_epoch_gets_a_snapshot(server: LiveServer, opened: OpenSession) -> None:
    """A ``since`` from another life of the counters (other epoch) is answered with a snapshot."""
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "e")))
    snapshot = await room.wait_type("snapshot")
    assert snapshot["epoch"]
    await room.close()
    back = await Room.join(
        server.ws_url(
            opened.session_id, server.token("viewer", "e"), since=snapshot["seq"], epoch="old"
        )
    )
    assert (await back.next_frame())["type"] == "snapshot"
    await back.close()
