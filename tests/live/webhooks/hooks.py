"""Registering a receiver's endpoint through the admin API, as a brand's engineer does."""

from typing import Any

from tests.live.webhooks.receiver import Receiver
from tests.support.servers import LiveServer

ALL_TYPES = [
    "session.scheduled",
    "session.started",
    "session.ended",
    "order.reserved",
    "order.paid",
    "order.cancelled",
    "order.refunded",
    "clip.ready",
    "session.reminder",
]


async def register(
    server: LiveServer,
    receiver: Receiver,
    name: str,
    *,
    event_types: list[str] | None = None,
    brand: str | None = None,
) -> dict[str, Any]:
    """Create endpoint ``name`` on ``receiver`` for the brand's admin; its secret is given to
    the receiver to verify what arrives."""
    admin = server.token("admin", "admin-1", brand=brand)
    async with server.client(admin) as client:
        created = await client.post(
            "/api/webhooks/endpoints",
            json={"url": receiver.url(name), "event_types": event_types or ALL_TYPES},
        )
    assert created.status_code == 201, created.text
    endpoint: dict[str, Any] = created.json()
    receiver.secrets[f"/hooks/{name}"] = endpoint["secret"]
    return endpoint
