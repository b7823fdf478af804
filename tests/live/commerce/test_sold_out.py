"""Fan-out of a sell-out: one durable ``sold_out`` event when a product's stock reaches 0, sent
to viewers in the room's next tick."""

from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import open_session


async def test_sold_out_is_announced_once(server: LiveServer) -> None:
    """The order taking the last unit sends ``sold_out`` (with a seq) once, after ``stock`` 0 in
    the same tick."""
    opened = await open_session(server, stock=2, limit=1)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "w")))
    await room.wait_type("snapshot")
    for n in range(3):
        async with server.client(server.token("viewer", f"s{n}")) as buyer:
            await buyer.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": f"s{n}"},
            )
    sold_out = await room.wait_type("sold_out")
    assert sold_out["product_id"] == opened.product_id
    assert isinstance(sold_out["seq"], int)
    # Read up to the batch that carried it: the last level seen is already 0.
    levels = [frame["levels"] for frame in room.frames if frame.get("type") == "stock"]
    assert levels[-1][opened.product_id] == 0
    async with server.client(opened.host_token) as host:
        await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
    await room.wait_type("pin")
    assert [f for f in room.frames if f.get("type") == "sold_out"] == []
    await room.close()
