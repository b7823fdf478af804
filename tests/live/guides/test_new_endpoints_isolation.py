"""No brand reads or changes another's through the endpoints of issue 17: each answers
``not_found`` to every role of another brand."""

from tests.live.replays import archived
from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import open_session


async def test_another_brand_finds_nothing(server: LiveServer) -> None:
    """Clips, draws, the muted list, orders to pay, share links and posters of one brand do
    not exist for tokens of another."""
    ended = await archived.build(server)
    opened = await open_session(server)
    clip_id = ended.clips[0]["clip_id"]
    async with server.client(opened.host_token) as host:
        draw = (
            await host.post(
                f"/api/sessions/{opened.session_id}/draws", json={"winners": 1, "duration_s": 60}
            )
        ).json()
    owner_viewer = server.token("viewer", "ann")
    room = await Room.join(server.ws_url(opened.session_id, owner_viewer))
    await room.wait_type("snapshot")
    await room.close()
    async with server.client(owner_viewer) as viewer:
        order = (
            await viewer.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": "iso-1"},
            )
        ).json()
    async with server.client(server.token("guide", "wei")) as guide:
        short = (
            await guide.get("/api/guides/me/share", params={"session_id": opened.session_id})
        ).json()["short_code"]
    other = "brand-elsewhere"
    sid = opened.session_id
    asked = []
    async with server.client(server.token("viewer", "ann", brand=other)) as viewer:
        asked += [
            await viewer.get(f"/api/clips/{clip_id}"),
            await viewer.get(f"/api/sessions/{sid}/draws"),
            await viewer.post(f"/api/orders/{order['order_id']}/pay", json={}),
            await viewer.post(f"/api/dev/payments/{order['order_id']}"),
            await viewer.get(f"/api/orders/{order['order_id']}"),
        ]
        mine = (await viewer.get("/api/orders/mine")).json()
    async with server.client(server.token("host", "h", brand=other)) as host:
        asked += [
            await host.get(f"/api/sessions/{sid}/moderation"),
            await host.post(f"/api/sessions/{sid}/draws/{draw['draw_id']}/close"),
            await host.post(f"/api/sessions/{sid}/cover", content=b"x"),
        ]
    async with server.client(server.token("guide", "wei", brand=other)) as guide:
        asked += [
            await guide.get("/api/guides/me/poster.png", params={"session_id": sid}),
            await guide.get("/api/guides/me/share", params={"session_id": sid}),
            await guide.delete(f"/api/guides/me/share/{short}"),
        ]
    codes = [(a.request.method, a.request.url.path, a.status_code) for a in asked]
    assert [c for c in codes if c[2] != 404] == []
    assert mine["items"] == []
