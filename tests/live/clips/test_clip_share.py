"""Share codes for one clip of an ended session: a viewer opening the clip through a guide's
code is bound to that guide for the brand's next purchases; a code for another clip, or for no
clip of the session, binds nobody."""

from tests.harness import LiveServer, eventually, open_session


async def _ended_with_clips(server: LiveServer) -> tuple[str, list[str]]:
    """A session where two products were explained, ended and archived: (id, clip ids)."""
    opened = await open_session(server)
    async with server.client(opened.host_token) as host:
        second = await host.post(
            f"/api/sessions/{opened.session_id}/products",
            json={"sku": "SKU-2", "title": "Scarf", "price_cents": 900, "stock": 3},
        )
        for product_id in (opened.product_id, second.json()["product_id"]):
            pinned = await host.post(
                f"/api/sessions/{opened.session_id}/pin", json={"product_id": product_id}
            )
            assert pinned.status_code == 200, pinned.text
        await host.post(f"/api/sessions/{opened.session_id}/end")

        async def archived() -> bool:
            answer = await host.get(f"/api/sessions/{opened.session_id}/clips")
            return answer.status_code == 200

        await eventually(archived)
        clips = (await host.get(f"/api/sessions/{opened.session_id}/clips")).json()
    return opened.session_id, [clip["clip_id"] for clip in clips]


async def test_a_clip_share_binds_the_viewer_for_the_next_session(server: LiveServer) -> None:
    """The guide shares clip 1; a viewer opening it is bound; in the brand's next live session
    that viewer's order is credited to the guide. A clip-1 code used on clip 2 binds nobody."""
    session_id, clip_ids = await _ended_with_clips(server)
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
