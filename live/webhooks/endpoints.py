"""A brand's webhook endpoints as records: checks, create, change, delete, views.

Contract: an endpoint gets the events of the types it subscribes to that happen from its
creation on (`live.webhooks.fan_out`); an inactive one keeps its deliveries pending until it is
active again; a deleted one gets nothing more and its pending deliveries are dead at once.
"""

from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common import codec
from common.errors import ClientError, Code
from live.db.models import WebhookDeliveryRow, WebhookEndpointRow
from live.platform import ids
from live.webhooks import events, signing

#: Endpoints a brand may have (deleted ones do not count).
MAX_ENDPOINTS = 20
MAX_URL_CHARS = 2048
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def check_url(url: object) -> str:
    """An absolute ``http(s)://`` URL with a host, or `ClientError` saying what is wrong."""
    if not isinstance(url, str) or not url.strip() or len(url.strip()) > MAX_URL_CHARS:
        raise ClientError(Code.INVALID_REQUEST, f"url: an http(s) URL of at most {MAX_URL_CHARS}")
    parsed = urlparse(url.strip())
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ClientError(Code.INVALID_REQUEST, "url must look like https://shop.example/hooks")
    return url.strip()


def check_types(value: object) -> list[str]:
    """A non-empty list of known event types, without repeats."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ClientError(Code.INVALID_REQUEST, "event_types must be a non-empty list of types")
    unknown = sorted(set(value) - set(events.EVENT_TYPES))
    if unknown:
        known = ", ".join(events.EVENT_TYPES)
        raise ClientError(Code.INVALID_REQUEST, f"unknown event types {unknown}; known: {known}")
    return [kind for kind in events.EVENT_TYPES if kind in value]


def types_of(row: WebhookEndpointRow) -> list[str]:
    """The event types the endpoint subscribes to."""
    kinds: list[str] = codec.decode(row.event_types)
    return kinds


def view(row: WebhookEndpointRow, *, with_secret: bool = False) -> dict[str, Any]:
    """An endpoint as the admin API shows it; the secret only where asked for."""
    shown: dict[str, Any] = {
        "endpoint_id": row.id,
        "url": row.url,
        "event_types": types_of(row),
        "description": row.description,
        "active": row.active,
        "created_at": row.created_ms,
        "updated_at": row.updated_ms,
    }
    if with_secret:
        shown["secret"] = row.secret
    return shown


async def load(db: AsyncSession, brand: str, endpoint_id: str) -> WebhookEndpointRow:
    """The brand's endpoint, or `not_found` (another brand's endpoints do not exist for it)."""
    row = await db.get(WebhookEndpointRow, endpoint_id)
    if row is None or row.brand != brand or row.deleted_ms is not None:
        raise ClientError(Code.NOT_FOUND, f"no webhook endpoint {endpoint_id}")
    return row


async def of_brand(db: AsyncSession, brand: str) -> list[WebhookEndpointRow]:
    """The brand's endpoints, oldest first."""
    rows = await db.scalars(
        select(WebhookEndpointRow)
        .where(WebhookEndpointRow.brand == brand, WebhookEndpointRow.deleted_ms.is_(None))
        .order_by(WebhookEndpointRow.created_ms, WebhookEndpointRow.id)
    )
    return list(rows)


async def create(
    db: AsyncSession, brand: str, fields: dict[str, Any], *, now_ms: int
) -> WebhookEndpointRow:
    """A new active endpoint with a fresh secret."""
    if len(await of_brand(db, brand)) >= MAX_ENDPOINTS:
        raise ClientError(Code.CONFLICT, f"a brand has at most {MAX_ENDPOINTS} endpoints")
    row = WebhookEndpointRow(
        id=ids.new_id("whe"),
        brand=brand,
        url=check_url(fields.get("url")),
        secret=signing.new_secret(),
        event_types=codec.encode(check_types(fields.get("event_types"))).decode(),
        description=fields.get("description") or "",
        active=True,
        created_ms=now_ms,
        updated_ms=now_ms,
    )
    db.add(row)
    return row


async def change(
    db: AsyncSession, brand: str, endpoint_id: str, fields: dict[str, Any], *, now_ms: int
) -> WebhookEndpointRow:
    """Change the URL, types, description or ``active`` (fields absent stay as they are)."""
    row = await load(db, brand, endpoint_id)
    if "url" in fields:
        row.url = check_url(fields["url"])
    if "event_types" in fields:
        row.event_types = codec.encode(check_types(fields["event_types"])).decode()
    if "description" in fields:
        row.description = fields["description"] or ""
    if "active" in fields:
        if not isinstance(fields["active"], bool):
            raise ClientError(Code.INVALID_REQUEST, "active must be true or false")
        row.active = fields["active"]
    if fields.get("rotate_secret") is True:
        row.secret = signing.new_secret()
    row.updated_ms = now_ms
    return row


async def delete(db: AsyncSession, brand: str, endpoint_id: str, *, now_ms: int) -> None:
    """Delete the endpoint: nothing more goes to it; its pending deliveries are dead."""
    row = await load(db, brand, endpoint_id)
    row.deleted_ms, row.active, row.updated_ms = now_ms, False, now_ms
    await db.execute(
        update(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.endpoint_id == endpoint_id, WebhookDeliveryRow.status == PENDING)
        .values(status=DEAD, last_error="endpoint deleted")
    )
