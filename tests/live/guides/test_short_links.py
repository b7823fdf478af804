"""Short share links and posters: a short, unguessable code per guide and session, mapped to
the signed share code, revocable; a poster image carrying its QR code."""

import io
import re
import secrets

from PIL import Image

from live.guides import posters
from tests.live.sessions.test_products import png
from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import open_session

CODE = re.compile(r"^[A-Za-z0-9_-]{16}$")


async def _share(server: LiveServer, guide: str, session_id: str) -> dict[str, str]:
    async with server.client(server.token("guide", guide, name=guide.title())) as client:
        answer = await client.get("/api/guides/me/share", params={"session_id": session_id})
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


async def test_a_short_link_stands_for_the_guides_share_code(server: LiveServer) -> None:
    """A guide gets one short code per session (the same when asked again, another for another
    guide), at most 32 URL-safe characters; /s/ opens the room with the signed code, and a
    viewer coming through it buys for the guide."""
    opened = await open_session(server, stock=5)
    first = await _share(server, "wei", opened.session_id)
    again = await _share(server, "wei", opened.session_id)
    other = await _share(server, "lin", opened.session_id)
    assert CODE.match(first["short_code"])
    assert first["short_code"] == again["short_code"] != other["short_code"]
    assert first["short_url"] == f"{server.base_url}/s/{first['short_code']}"
    async with server.client() as anyone:
        opened_link = await anyone.get(f"/s/{first['short_code']}", follow_redirects=False)
        scene = (await anyone.get(f"/api/share/{first['short_code']}")).json()
    target = opened_link.headers["location"]
    assert opened_link.status_code == 302
    assert target.startswith(f"/watch/{opened.session_id}?share=")
    share = target.split("share=", 1)[1]
    assert scene == {
        "session_id": opened.session_id,
        "clip_id": None,
        "share": share,
        "path": target,
    }
    token = server.token("viewer", "ivy")
    room = await Room.join(server.ws_url(opened.session_id, token, share=share))
    await room.wait_type("snapshot")
    await room.close()
    async with server.client(token) as viewer:
        order = await viewer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "ivy-1"},
        )
    assert order.json()["guide_id"] == "wei"


async def test_a_revoked_link_opens_nothing(server: LiveServer) -> None:
    """The guide withdraws its link: /s/ answers a page saying so (410), the scene lookup
    link_revoked; another guide cannot withdraw it; the next share is a new code."""
    opened = await open_session(server)
    shared = await _share(server, "wei", opened.session_id)
    code = shared["short_code"]
    async with server.client(server.token("guide", "lin")) as lin:
        stranger = await lin.delete(f"/api/guides/me/share/{code}")
    async with server.client(server.token("guide", "wei")) as wei:
        revoked = await wei.delete(f"/api/guides/me/share/{code}")
    async with server.client() as anyone:
        page = await anyone.get(f"/s/{code}", follow_redirects=False)
        scene = await anyone.get(f"/api/share/{code}")
        unknown = await anyone.get("/s/AAAAAAAAAAAAAAAA")
    renewed = await _share(server, "wei", opened.session_id)
    assert stranger.status_code == 404
    assert revoked.status_code == 200
    assert (page.status_code, page.headers["content-type"]) == (410, "text/html; charset=utf-8")
    assert "withdrawn" in page.text
    assert (scene.status_code, scene.json()["error"]["code"]) == (410, "link_revoked")
    assert unknown.status_code == 404
    assert renewed["short_code"] != code


async def test_guessed_codes_are_not_found(server: LiveServer) -> None:
    """Fifty random codes of the issued shape: every one 404, none 5xx."""
    async with server.client() as anyone:
        answers = [
            (await anyone.get(f"/api/share/{secrets.token_urlsafe(12)}")).status_code
            for _ in range(50)
        ]
    assert set(answers) == {404}


async def test_the_poster_shows_the_cover_and_the_short_links_qr(server: LiveServer) -> None:
    """The poster is a 750x1200 PNG: its picture is the session's cover, the text below it is
    drawn, and its QR code is exactly the short link's."""
    opened = await open_session(server)
    cover = png(40, 30)
    async with server.client(opened.host_token) as host:
        await host.post(f"/api/sessions/{opened.session_id}/cover", content=cover)
    async with server.client(server.token("guide", "wei", name="Wei", store="sh-01")) as guide:
        answer = await guide.get(
            "/api/guides/me/poster.png", params={"session_id": opened.session_id}
        )
        shared = (
            await guide.get("/api/guides/me/share", params={"session_id": opened.session_id})
        ).json()
    assert answer.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content)).convert("RGB")
    assert image.size == (posters.WIDTH, posters.HEIGHT)
    assert image.getpixel((375, 260)) == (200, 40, 90)  # the cover, scaled to fill
    title_band = image.crop((40, posters.PICTURE_HEIGHT + 30, 700, posters.PICTURE_HEIGHT + 100))
    darkest, _ = title_band.convert("L").getextrema()
    assert isinstance(darkest, int)
    assert darkest < 80  # dark text on white
    qr_top = posters.HEIGHT - posters.QR_SIZE - 90
    drawn = image.crop((40, qr_top, 40 + posters.QR_SIZE, qr_top + posters.QR_SIZE))
    expected = posters._qr(shared["short_url"])
    assert drawn.tobytes() == expected.tobytes()
