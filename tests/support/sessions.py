"""What a host sets up before a test: a live session with one product, or an ended and archived
session with clips."""

from dataclasses import dataclass

from tests.support.polling import eventually
from tests.support.servers import LiveServer


@dataclass(frozen=True)
class OpenSession:
    """A live session with one product, as the host set it up."""

    session_id: str
    product_id: str
    host_token: str


async def open_session(
    server: LiveServer, *, stock: int = 10, limit: int | None = 2, price_cents: int = 19_900
) -> OpenSession:
    """Create a session with one product and start it, as a host of the server's brand."""
    host_token = server.token("host", "host-1")
    async with server.client(host_token) as host:
        created = await host.post("/api/sessions", json={"title": "Autumn drop"})
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        product = await host.post(
            f"/api/sessions/{session_id}/products",
            json={
                "sku": "SKU-1",
                "title": "Wool coat",
                "price_cents": price_cents,
                "stock": stock,
                "limit_per_viewer": limit,
            },
        )
        assert product.status_code == 201, product.text
        started = await host.post(f"/api/sessions/{session_id}/start")
        assert started.status_code == 200, started.text
    return OpenSession(session_id, product.json()["product_id"], host_token)


async def ended_with_clips(server: LiveServer) -> tuple[str, list[str]]:
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

        await eventually(archived, what="the session's clips")
        clips = (await host.get(f"/api/sessions/{opened.session_id}/clips")).json()
    return opened.session_id, [clip["clip_id"] for clip in clips]
