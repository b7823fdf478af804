"""An ended, archived session built by driving a real one: pins, a purchase, a price change,
comments (one deleted by the host), with pauses so that the timeline has some length."""

import asyncio
from dataclasses import dataclass
from typing import Any

from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


@dataclass(frozen=True)
class Archived:
    """The session, its two products, the archived events (HTTP replay) and its clips."""

    session_id: str
    coat: str
    scarf: str
    host_token: str
    events: list[dict[str, Any]]
    clips: list[dict[str, Any]]

    def first(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The first archived event of ``kind`` with ``fields``."""
        return next(
            e
            for e in self.events
            if e["type"] == kind and all(e.get(k) == v for k, v in fields.items())
        )


async def build(server: LiveServer, *, pause_s: float = 0.3, stock: int = 10) -> Archived:
    """Drive the session described in the module doc, end it, and wait for its archive.

    Timeline: pin coat; comment "hello"; a viewer buys one coat; the coat's price drops to
    15 000; comment "bad word" (deleted by the host); pause; pin scarf; comment "scarf!";
    pause; unpin; end.
    """
    opened = await open_session(server, stock=stock, limit=None)
    sid = opened.session_id
    viewer = await Room.join(server.ws_url(sid, server.token("viewer", "v1", name="Vic")))
    host_room = await Room.join(server.ws_url(sid, opened.host_token))
    await viewer.wait_type("snapshot")
    await host_room.wait_type("snapshot")
    async with server.client(opened.host_token) as host:
        scarf = await host.post(
            f"/api/sessions/{sid}/products",
            json={"sku": "SKU-2", "title": "Scarf", "price_cents": 900, "stock": 3},
        )
        assert scarf.status_code == 201, scarf.text
        scarf_id = scarf.json()["product_id"]
        await _ok(host.post(f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id}))
        await _comment(viewer, "hello")
        async with server.client(server.token("viewer", "v1", name="Vic")) as buyer:
            order = await buyer.post(
                f"/api/sessions/{sid}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": "live-1"},
            )
            assert order.status_code == 201, order.text
        await viewer.wait_for(
            lambda f: f.get("type") == "stock" and f["levels"].get(opened.product_id) == stock - 1
        )
        await _ok(
            host.patch(
                f"/api/sessions/{sid}/products/{opened.product_id}", json={"price_cents": 15_000}
            )
        )
        bad = await _comment(viewer, "bad word")
        await host_room.send({"type": "delete_comment", "comment_id": bad, "ref": "d"})
        await host_room.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == "d")
        await asyncio.sleep(pause_s)  # the timeline needs length: data, not synchronisation
        await _ok(host.post(f"/api/sessions/{sid}/pin", json={"product_id": scarf_id}))
        await _comment(viewer, "scarf!")
        await asyncio.sleep(pause_s)  # the timeline needs length (as above)
        await _ok(host.delete(f"/api/sessions/{sid}/pin"))
        await viewer.close()
        await host_room.close()
        await _ok(host.post(f"/api/sessions/{sid}/end"))

        async def archived() -> bool:
            answer = await host.get(f"/api/sessions/{sid}/clips")
            return answer.status_code == 200

        await eventually(archived, timeout_s=20 * UNIT_S)
        events = (await host.get(f"/api/sessions/{sid}/replay")).json()
        clips = (await host.get(f"/api/sessions/{sid}/clips")).json()
    return Archived(sid, opened.product_id, scarf_id, opened.host_token, events, clips)


async def _ok(request: Any) -> None:
    answer = await request
    assert answer.status_code == 200, answer.text


async def _comment(room: Room, text: str) -> str:
    await room.send({"type": "comment", "text": text, "ref": text})
    ack = await room.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == text)
    return str(ack["id"])


def fold(events: list[dict[str, Any]], t_ms: int) -> dict[str, Any]:
    """Reference fold of the archived product script at ``t_ms``, written plainly for tests:
    pinned product, prices changed and stock levels (highest ``version``) at or before it."""
    pinned: str | None = None
    prices: dict[str, int] = {}
    levels: dict[str, tuple[int, int]] = {}
    for event in events:
        if event.get("t_ms", 0) > t_ms:
            continue
        if event["type"] == "pin":
            pinned = event["product_id"]
        elif event["type"] == "unpin":
            pinned = None
        elif event["type"] == "price":
            prices[event["product_id"]] = event["price_cents"]
        elif event["type"] == "stock":
            for product_id, level in event["levels"].items():
                if product_id not in levels or event["version"] >= levels[product_id][1]:
                    levels[product_id] = (level, event["version"])
    return {
        "pinned": pinned,
        "prices": prices,
        "levels": {product_id: level for product_id, (level, _) in levels.items()},
    }
