"""A clip by its id alone (``GET /api/clips/{clip_id}``): what a shared clip link opens."""

from tests.live.replays import archived
from tests.support.servers import LiveServer


async def test_a_clip_link_names_its_session_and_product_and_touches_the_guide(
    server: LiveServer,
) -> None:
    """The clip answers with its session's title and its product as it sells now; a viewer
    arriving with the guide's clip code is bound to the guide; another brand finds nothing."""
    ended = await archived.build(server)
    clip = ended.clips[0]
    async with server.client(server.token("guide", "wei")) as guide:
        code = (
            await guide.get(
                "/api/guides/me/share",
                params={"session_id": ended.session_id, "clip_id": clip["clip_id"]},
            )
        ).json()["code"]
    async with server.client(server.token("viewer", "pia")) as viewer:
        opened = await viewer.get(f"/api/clips/{clip['clip_id']}", params={"share": code})
        order = await viewer.post(
            f"/api/sessions/{ended.session_id}/clips/{clip['clip_id']}/orders",
            json={"qty": 1},
            headers={"Idempotency-Key": "clip-link-1"},
        )
    async with server.client(server.token("viewer", "pia", brand="elsewhere")) as stranger:
        foreign = await stranger.get(f"/api/clips/{clip['clip_id']}")
    body = opened.json()
    assert opened.status_code == 200, opened.text
    assert (body["session_id"], body["session_status"]) == (ended.session_id, "ended")
    assert body["session_title"] == "Autumn drop"
    assert body["product"]["product_id"] == clip["product_id"]
    assert body["product"]["stock"] == 9
    assert order.json()["guide_id"] == "wei"
    assert foreign.status_code == 404
