"""Helpers of the waitlist tests: a sold-out session with viewers on the room socket."""

from dataclasses import dataclass
from typing import Any

from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession, open_session


@dataclass
class SoldOut:
    """A live session whose one product sold out to ``buyers`` (one reserved order each)."""

    opened: OpenSession
    orders: dict[str, str]

    @property
    def session_id(self) -> str:
        """The session."""
        return self.opened.session_id

    @property
    def product_id(self) -> str:
        """Its product."""
        return self.opened.product_id


async def joined(server: LiveServer, session_id: str, viewer: str, **params: Any) -> Room:
    """A viewer's socket in the room, past its snapshot."""
    room = await Room.join(server.ws_url(session_id, server.token("viewer", viewer), **params))
    await room.wait_type("snapshot")
    return room


async def answer(room: Room, message: dict[str, Any]) -> dict[str, Any]:
    """Send a message with a ref and return its ``ack`` or ``error``."""
    ref = f"r{id(message)}"
    await room.send({**message, "ref": ref})
    return await room.wait_for(lambda f: f.get("type") in ("ack", "error") and f["ref"] == ref)


async def sold_out(server: LiveServer, *, stock: int, limit: int | None = 1) -> SoldOut:
    """A session whose ``stock`` units are all reserved, one each by buyers ``b0``, ``b1``..."""
    opened = await open_session(server, stock=stock, limit=limit)
    orders = {}
    for n in range(stock):
        async with server.client(server.token("viewer", f"b{n}")) as http:
            placed = await http.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": f"buy-{n}"},
            )
        assert placed.status_code == 201, placed.text
        orders[f"b{n}"] = placed.json()["order_id"]
    return SoldOut(opened, orders)


async def cancel(server: LiveServer, buyer: str, order_id: str) -> None:
    """The buyer cancels its order: its unit comes back."""
    async with server.client(server.token("viewer", buyer)) as http:
        cancelled = await http.post(f"/api/orders/{order_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
