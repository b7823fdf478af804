"""Products with images and variants: each variant is a product of its own (SKU, stock,
per-viewer limit), grouped under its first product; the session view, the joining snapshot and
the live room carry what a product bag shows."""

import asyncio
import io
from typing import Any

from PIL import Image
from sqlalchemy import select

from live.db.models import ProductRow
from live.db.unit import transaction
from tests.support.clients import Room
from tests.support.servers import LiveServer

COAT = {"sku": "COAT", "title": "Wool coat", "price_cents": 59_900, "stock": 3}


def png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG image."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


async def _session(server: LiveServer, host: Any) -> str:
    created = await host.post("/api/sessions", json={"title": "Variants"})
    assert created.status_code == 201, created.text
    session_id: str = created.json()["id"]
    return session_id


async def _coat_in_sizes(host: Any, session_id: str, stocks: dict[str, int]) -> dict[str, str]:
    """The coat in each size of ``stocks`` (size -> units): product ids by size."""
    ids: dict[str, str] = {}
    for size, stock in stocks.items():
        body = {
            **COAT,
            "sku": f"COAT-{size}",
            "stock": stock,
            "limit_per_viewer": 1,
            "options": {"size": size, "colour": "navy"},
            "image_url": "https://cdn.example.com/coat.jpg",
        }
        if ids:
            body["variant_of"] = next(iter(ids.values()))
        added = await host.post(f"/api/sessions/{session_id}/products", json=body)
        assert added.status_code == 201, added.text
        ids[size] = added.json()["product_id"]
    return ids


async def test_variants_and_images_reach_the_session_and_the_room(server: LiveServer) -> None:
    """Every variant shows with its group, options, image and its own stock over HTTP and in
    the snapshot; a product added live reaches the room as ``product``."""
    async with server.client(server.token("host", "h")) as host:
        session_id = await _session(server, host)
        ids = await _coat_in_sizes(host, session_id, {"S": 2, "M": 5, "L": 0})
        assert (await host.post(f"/api/sessions/{session_id}/start")).status_code == 200
        body = (await host.get(f"/api/sessions/{session_id}")).json()
        room = await Room.join(server.ws_url(session_id, server.token("viewer", "v")))
        snapshot = await room.wait_type("snapshot")
        scarf = await host.post(
            f"/api/sessions/{session_id}/products",
            json={"sku": "SCARF", "title": "Scarf", "price_cents": 9_900, "stock": 4},
        )
        added = await room.wait_type("product")
    await room.close()
    group = ids["S"]
    for listed in (body["products"], snapshot["products"]):
        by_id = {p["product_id"]: p for p in listed}
        assert {by_id[i]["group_id"] for i in ids.values()} == {group}
        assert {by_id[i]["options"]["size"]: by_id[i]["stock"] for i in ids.values()} == {
            "S": 2,
            "M": 5,
            "L": 0,
        }
        assert by_id[ids["M"]]["image_url"] == "https://cdn.example.com/coat.jpg"
        assert by_id[ids["M"]]["sale"] is None
    assert added["product"]["product_id"] == scarf.json()["product_id"]
    assert added["product"]["group_id"] is None
    assert isinstance(added["seq"], int)


async def test_an_uploaded_image_is_checked_stored_and_served(server: LiveServer) -> None:
    """A PNG upload becomes the product's image under /media/, served as it was sent;
    anything that is not an image, or too big, is refused and changes nothing."""
    image = png()
    async with server.client(server.token("host", "h")) as host:
        session_id = await _session(server, host)
        product = (await host.post(f"/api/sessions/{session_id}/products", json=COAT)).json()
        path = f"/api/sessions/{session_id}/products/{product['product_id']}/image"
        uploaded = await host.post(path, content=image, headers={"Content-Type": "image/png"})
        not_image = await host.post(path, content=b"GIF89a not really")
        too_big = await host.post(path, content=b"\x89PNG" + b"\0" * (2 * 1024 * 1024))
        cover = await host.post(f"/api/sessions/{session_id}/cover", content=image)
        session = (await host.get(f"/api/sessions/{session_id}")).json()
    async with server.client(server.token("viewer", "v")) as viewer:
        refused = await viewer.post(path, content=image)
    async with server.client() as anyone:
        served = await anyone.get(uploaded.json()["image_url"])
        unknown = await anyone.get(f"/media/{server.brand}/{'0' * 32}.png")
        traversal = await anyone.get(f"/media/{server.brand}/..%2Fsecrets.json")
    assert uploaded.status_code == 200, uploaded.text
    url = uploaded.json()["image_url"]
    assert url.startswith(f"/media/{server.brand}/")
    assert url.endswith(".png")
    assert (served.status_code, served.content) == (200, image)
    assert served.headers["content-type"] == "image/png"
    assert not_image.status_code == 422
    assert not_image.json()["error"]["code"] == "invalid_request"
    assert too_big.json()["error"]["code"] == "frame_too_large"
    assert refused.json()["error"]["code"] == "forbidden"
    assert unknown.status_code == 404
    assert traversal.status_code == 404
    assert session["cover_url"] == cover.json()["cover_url"] == url
    assert session["products"][0]["image_url"] == url


async def test_bad_variant_input_is_refused_with_a_code(server: LiveServer) -> None:
    """A variant of an unknown product or of another session's, malformed options and image
    URLs: clear catalog errors, nothing written."""
    async with server.client(server.token("host", "h")) as host:
        session_id = await _session(server, host)
        other = await _session(server, host)
        theirs = (await host.post(f"/api/sessions/{other}/products", json=COAT)).json()
        path = f"/api/sessions/{session_id}/products"
        answers = [
            await host.post(path, json={**COAT, "variant_of": "prd_nope"}),
            await host.post(path, json={**COAT, "variant_of": theirs["product_id"]}),
            await host.post(path, json={**COAT, "options": ["size", "M"]}),
            await host.post(path, json={**COAT, "options": {f"k{n}": "v" for n in range(5)}}),
            await host.post(path, json={**COAT, "options": {"size": 3}}),
            await host.post(path, json={**COAT, "image_url": "javascript:alert(1)"}),
        ]
        listed = (await host.get(f"/api/sessions/{session_id}")).json()["products"]
    codes = [(a.status_code, a.json()["error"]["code"]) for a in answers]
    assert codes == [(404, "not_found")] * 2 + [(422, "invalid_request")] * 4
    assert listed == []


async def test_variants_are_never_oversold_under_a_crowd(server: LiveServer) -> None:
    """Forty viewers buy each size at once: every size sells exactly its own stock, the record
    agrees, and no viewer gets a second unit past the per-viewer limit."""
    async with server.client(server.token("host", "h")) as host:
        session_id = await _session(server, host)
        ids = await _coat_in_sizes(host, session_id, {"S": 3, "M": 7, "L": 1})
        await host.post(f"/api/sessions/{session_id}/start")

    async def buy(viewer: str, product_id: str, key: str) -> tuple[str, int, str]:
        async with server.client(server.token("viewer", viewer)) as client:
            answer = await client.post(
                f"/api/sessions/{session_id}/orders",
                json={"product_id": product_id, "qty": 1},
                headers={"Idempotency-Key": key},
            )
        code = "ok" if answer.status_code == 201 else answer.json()["error"]["code"]
        return product_id, answer.status_code, code

    attempts = [
        buy(f"v{n}", product_id, f"k{n}-{size}-{attempt}")
        for n in range(40)
        for size, product_id in ids.items()
        for attempt in range(2)
    ]
    answers = await asyncio.gather(*attempts)
    sold = {
        size: sum(1 for p, s, _ in answers if p == pid and s == 201) for size, pid in ids.items()
    }
    assert sold == {"S": 3, "M": 7, "L": 1}
    assert {code for _, _, code in answers} <= {"ok", "sold_out", "limit_exceeded"}
    async with transaction(server.context.db) as db:
        rows = {
            r.id: r
            for r in await db.scalars(select(ProductRow).where(ProductRow.session_id == session_id))
        }
    assert {size: rows[pid].committed_qty for size, pid in ids.items()} == sold
