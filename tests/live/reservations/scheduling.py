"""What the reservation tests do as hosts, guides and viewers: schedule a session, share it,
reserve it."""

import time
from typing import Any

from tests.support.servers import LiveServer


async def schedule(
    server: LiveServer, *, in_s: float = 3_600, title: str = "Spring preview"
) -> tuple[str, str]:
    """A session scheduled ``in_s`` from now with one product: (session id, product id)."""
    async with server.client(server.token("host", "host-1")) as host:
        created = await host.post(
            "/api/sessions",
            json={
                "title": title,
                "starts_at": int((time.time() + in_s) * 1000),
                "cover_url": "https://cdn.example.com/cover.jpg",
            },
        )
        assert created.status_code == 201, created.text
        session_id: str = created.json()["id"]
        product = await host.post(
            f"/api/sessions/{session_id}/products",
            json={"sku": "SKU-1", "title": "Linen shirt", "price_cents": 12_900, "stock": 50},
        )
        assert product.status_code == 201, product.text
    return session_id, product.json()["product_id"]


async def share_of(server: LiveServer, session_id: str, guide: str) -> str:
    """``guide``'s share code for the session (store ``store-1``)."""
    async with server.client(server.token("guide", guide, store="store-1")) as client:
        answer = await client.get("/api/guides/me/share", params={"session_id": session_id})
    assert answer.status_code == 200, answer.text
    code: str = answer.json()["code"]
    return code


async def reserve(
    server: LiveServer, session_id: str, viewer: str, *, share: str | None = None
) -> tuple[int, dict[str, Any]]:
    """``viewer`` reserves the session (through ``share`` when given): (status, body)."""
    token = server.token("viewer", viewer, name=f"Name of {viewer}")
    async with server.client(token) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/reservations", json={"share": share} if share else {}
        )
    body: dict[str, Any] = answer.json()
    return answer.status_code, body
