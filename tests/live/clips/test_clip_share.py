"""Share codes for one clip of an ended session: a viewer opening the clip through a guide's
code is bound to that guide for the brand's next purchases; a code for another clip, or for no
clip of the session, binds nobody."""

from tests.support.servers import LiveServer
from tests.support.sessions import ended_with_clips, open_session


async def test_a_clip_share_binds_the_viewer_for_the_next_session(server: LiveServer) -> None:
    """The guide shares clip 1; a viewer opening it is bound; in the brand's next live session
    that viewer's order is credited to the guide. A clip-1 code used on clip 2 binds nobody."""
    session_id, clip_ids = await ended_with_clips(server)
    assert len(clip_ids) == 2
    async with server.client(server.token("guide", "ann")) as guide:
        shared = await guide.get(
            "/api/guides/me/share", params={"session_id": session_id, "clip_id": clip_ids[0]}
        )
        assert shared.status_code == 200, shared.text
        missing = await guide.get(
            "/api/guides/me/share", params={"session_id": session_id, "clip_id": "nope"}
        )
        assert missing.status_code == 404
    body = shared.json()
    assert body["clip_id"] == clip_ids[0]
    assert body["url"].endswith(f"/clips/{clip_ids[0]}?share={body['code']}")
    async with server.client(server.token("viewer", "wrong-clip")) as viewer:
        other = await viewer.get(
            f"/api/sessions/{session_id}/clips/{clip_ids[1]}", params={"share": body["code"]}
        )
        assert other.json()["clip_id"] == clip_ids[1]
    async with server.client(server.token("viewer", "fan")) as viewer:
        clip = await viewer.get(
            f"/api/sessions/{session_id}/clips/{clip_ids[0]}", params={"share": body["code"]}
        )
        assert clip.json()["clip_id"] == clip_ids[0]
    nxt = await open_session(server)
    for viewer_id, guide_id in (("fan", "ann"), ("wrong-clip", None)):
        async with server.client(server.token("viewer", viewer_id)) as buyer:
            order = await buyer.post(
                f"/api/sessions/{nxt.session_id}/orders",
                json={"product_id": nxt.product_id, "qty": 1},
                headers={"Idempotency-Key": "after-clip"},
            )
        assert order.status_code == 201, order.text
        assert order.json()["guide_id"] == guide_id
