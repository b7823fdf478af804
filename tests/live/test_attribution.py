"""Guide share codes bind viewers; orders record the guide; guides page through their orders."""

import time
from urllib.parse import parse_qs, urlparse

from live import share_codes
from tests.harness import SECRET, LiveServer, Room, open_session


async def _share_code(server: LiveServer, session_id: str, guide: str) -> dict[str, str]:
    async with server.client(server.token("guide", guide, store="store-7")) as client:
        answer = await client.get("/api/guides/me/share", params={"session_id": session_id})
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


async def _join_and_buy(
    server: LiveServer,
    session_id: str,
    product_id: str,
    viewer: str,
    *,
    share: str | None,
    key: str,
) -> dict[str, object]:
    params = {"share": share} if share else {}
    room = await Room.join(server.ws_url(session_id, server.token("viewer", viewer), **params))
    await room.wait_type("snapshot")
    await room.close()
    async with server.client(server.token("viewer", viewer)) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": key},
        )
    assert answer.status_code == 201, answer.text
    order: dict[str, object] = answer.json()
    return order


async def test_share_code_attributes_the_order_to_the_guide(server: LiveServer) -> None:
    """A viewer joining with a guide's code is bound; the order row names that guide."""
    opened = await open_session(server, stock=10, limit=5)
    share = await _share_code(server, opened.session_id, "guide-ann")
    assert share["qr_svg"].startswith("<svg")
    assert parse_qs(urlparse(share["url"]).query)["share"] == [share["code"]]
    order = await _join_and_buy(
        server, opened.session_id, opened.product_id, "cust-1", share=share["code"], key="a"
    )
    assert order["guide_id"] == "guide-ann"
    plain = await _join_and_buy(
        server, opened.session_id, opened.product_id, "cust-2", share=None, key="b"
    )
    assert plain["guide_id"] is None


async def test_last_touch_wins(server: LiveServer) -> None:
    """A later valid code rebinds the viewer to the newer guide."""
    opened = await open_session(server, stock=10, limit=5)
    first = await _share_code(server, opened.session_id, "guide-one")
    second = await _share_code(server, opened.session_id, "guide-two")
    room = await Room.join(
        server.ws_url(opened.session_id, server.token("viewer", "c"), share=first["code"])
    )
    await room.wait_type("snapshot")
    await room.close()
    order = await _join_and_buy(
        server, opened.session_id, opened.product_id, "c", share=second["code"], key="k"
    )
    assert order["guide_id"] == "guide-two"


async def test_forged_or_expired_codes_never_attribute(server: LiveServer) -> None:
    """A tampered, foreign-secret or expired code lets the viewer in but binds nobody."""
    opened = await open_session(server, stock=10, limit=5)
    good = (await _share_code(server, opened.session_id, "guide-x"))["code"]
    payload, signature = good.split(".")
    tampered = f"{payload}.{signature[:-2]}AA"
    foreign = share_codes.issue(
        "a-completely-different-secret-of-length",
        share_codes.ShareCode(
            "guide-x", server.brand, opened.session_id, None, int(time.time()) + 60
        ),
    )
    expired = share_codes.issue(
        SECRET,
        share_codes.ShareCode(
            "guide-x", server.brand, opened.session_id, None, int(time.time()) - 1
        ),
    )
    for n, code in enumerate([tampered, foreign, expired, "not-a-code"]):
        order = await _join_and_buy(
            server, opened.session_id, opened.product_id, f"f{n}", share=code, key=f"k{n}"
        )
        assert order["guide_id"] is None


async def test_guide_pages_through_own_orders_only(server: LiveServer) -> None:
    """Cursor pagination returns each of the guide's orders once, and none of others'."""
    opened = await open_session(server, stock=50, limit=5)
    mine = await _share_code(server, opened.session_id, "guide-p")
    theirs = await _share_code(server, opened.session_id, "guide-q")
    expected = set()
    for n in range(7):
        order = await _join_and_buy(
            server, opened.session_id, opened.product_id, f"m{n}", share=mine["code"], key="m"
        )
        expected.add(order["order_id"])
    await _join_and_buy(
        server, opened.session_id, opened.product_id, "other", share=theirs["code"], key="o"
    )
    seen: list[str] = []
    cursor = None
    async with server.client(server.token("guide", "guide-p")) as client:
        while True:
            params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/guides/me/orders", params=params)).json()
            assert len(page["items"]) <= 3
            seen.extend(item["order_id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = await client.get("/api/guides/me/orders", params={"cursor": "%%%"})
        assert bad.json()["error"]["code"] == "invalid_request"
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == expected
    async with server.client(server.token("guide", "guide-p", brand="elsewhere")) as client:
        assert (await client.get("/api/guides/me/orders")).json()["items"] == []
