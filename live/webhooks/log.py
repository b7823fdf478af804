"""The delivery log and redelivery, as the admin API reads and asks for them.

Contract: a brand sees only its own events, deliveries and attempts. Redelivering makes a
delivery pending and due now with a fresh retry window (its attempts stay in the log); one
that never existed (the endpoint was created after the event, or did not subscribe then) is
created. A delivery being sent right now keeps its lease: its outcome is still written, and a
redelivery asked meanwhile may then be recorded as already delivered.
"""

import base64
from typing import Any, TypeVar

from sqlalchemy import Select, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from common import codec
from common.errors import ClientError, Code
from live.db.models import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from live.webhooks import endpoints
from live.webhooks.fan_out import new_delivery

#: Events one range redelivery may cover at most.
MAX_REDELIVER = 10_000
_D = WebhookDeliveryRow
_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


def encode_cursor(created_ms: int, row_id: str) -> str:
    """An opaque cursor after (created_ms, id)."""
    return base64.urlsafe_b64encode(f"{created_ms}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(created_ms, id) of a cursor, or `invalid_request`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, row_id = raw.partition(":")
        return int(created), row_id
    except (ValueError, UnicodeDecodeError):
        raise ClientError(Code.INVALID_REQUEST, "cursor is not valid") from None


def event_view(row: WebhookEventRow) -> dict[str, Any]:
    """An outbox event as the admin API shows it."""
    return {
        "event_id": row.id,
        "type": row.type,
        "created_at": row.created_ms,
        "data": codec.decode(row.data),
    }


def delivery_view(row: WebhookDeliveryRow, event_type: str) -> dict[str, Any]:
    """A delivery as the log shows it."""
    return {
        "delivery_id": row.id,
        "event_id": row.event_id,
        "event_type": event_type,
        "endpoint_id": row.endpoint_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_ms if row.status == endpoints.PENDING else None,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": row.created_ms,
        "delivered_at": row.delivered_ms,
    }


def attempt_view(row: WebhookAttemptRow) -> dict[str, Any]:
    """One attempt of the log."""
    return {
        "attempt": row.attempt,
        "started_at": row.started_ms,
        "duration_ms": row.duration_ms,
        "status_code": row.status_code,
        "error": row.error,
        "node_id": row.node_id,
    }


def _after(query: _Q, created: Any, row_id: Any, cursor: str | None) -> _Q:
    if cursor:
        after = decode_cursor(cursor)
        query = query.where(tuple_(created, row_id) > tuple_(*after))
    return query.order_by(created, row_id)


async def events_page(
    db: AsyncSession,
    brand: str,
    *,
    kind: str | None,
    from_ms: int | None,
    to_ms: int | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WebhookEventRow], str | None]:
    """The brand's events, oldest first, with the cursor of the next page."""
    query = select(WebhookEventRow).where(WebhookEventRow.brand == brand)
    if kind is not None:
        query = query.where(WebhookEventRow.type == kind)
    if from_ms is not None:
        query = query.where(WebhookEventRow.created_ms >= from_ms)
    if to_ms is not None:
        query = query.where(WebhookEventRow.created_ms <= to_ms)
    query = _after(query, WebhookEventRow.created_ms, WebhookEventRow.id, cursor)
    rows = list(await db.scalars(query.limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    return page, encode_cursor(page[-1].created_ms, page[-1].id) if more else None


async def deliveries_page(
    db: AsyncSession,
    endpoint: WebhookEndpointRow,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """An endpoint's deliveries, oldest first, with the cursor of the next page."""
    query = (
        select(_D, WebhookEventRow.type)
        .join(WebhookEventRow, WebhookEventRow.id == _D.event_id)
        .where(_D.endpoint_id == endpoint.id)
    )
    if status is not None:
        query = query.where(_D.status == status)
    query = _after(query, _D.created_ms, _D.id, cursor)
    rows = (await db.execute(query.limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    items = [delivery_view(delivery, kind) for delivery, kind in page]
    last: WebhookDeliveryRow | None = page[-1][0] if page else None
    return items, encode_cursor(last.created_ms, last.id) if more and last else None


async def attempts_of(db: AsyncSession, brand: str, delivery_id: str) -> list[WebhookAttemptRow]:
    """A delivery's attempts, in order, or `not_found`."""
    delivery = await db.get(_D, delivery_id)
    if delivery is None or delivery.brand != brand:
        raise ClientError(Code.NOT_FOUND, f"no webhook delivery {delivery_id}")
    rows = await db.scalars(
        select(WebhookAttemptRow)
        .where(WebhookAttemptRow.delivery_id == delivery_id)
        .order_by(WebhookAttemptRow.started_ms, WebhookAttemptRow.id)
    )
    return list(rows)


async def redeliver(
    db: AsyncSession,
    events: list[WebhookEventRow],
    targets: list[WebhookEndpointRow],
    *,
    now_ms: int,
) -> int:
    """Make the deliveries of ``events`` to the ``targets`` subscribed to their type due now;
    returns how many."""
    wanted = [
        (event.id, endpoint)
        for event in events
        for endpoint in targets
        if event.type in endpoints.types_of(endpoint)
    ]
    if not wanted:
        return 0
    event_ids = {event_id for event_id, _ in wanted}
    existing = {
        (event_id, endpoint_id): delivery_id
        for delivery_id, event_id, endpoint_id in (
            await db.execute(
                select(_D.id, _D.event_id, _D.endpoint_id).where(
                    _D.event_id.in_(event_ids),
                    _D.endpoint_id.in_({endpoint.id for endpoint in targets}),
                )
            )
        ).all()
    }
    again = [existing[(e, t.id)] for e, t in wanted if (e, t.id) in existing]
    for start in range(0, len(again), 500):
        await db.execute(
            update(_D)
            .where(_D.id.in_(again[start : start + 500]))
            .values(status=endpoints.PENDING, next_ms=now_ms, window_ms=now_ms)
        )
    fresh = [
        new_delivery(event_id, endpoint.id, endpoint.brand, now_ms=now_ms)
        for event_id, endpoint in wanted
        if (event_id, endpoint.id) not in existing
    ]
    if fresh:
        db.add_all([_D(**row) for row in fresh])
    return len(wanted)


async def events_between(
    db: AsyncSession, brand: str, *, from_ms: int, to_ms: int
) -> list[WebhookEventRow]:
    """The brand's events created in ``[from_ms, to_ms]``, at most `MAX_REDELIVER`."""
    rows = list(
        await db.scalars(
            select(WebhookEventRow)
            .where(
                WebhookEventRow.brand == brand,
                WebhookEventRow.created_ms >= from_ms,
                WebhookEventRow.created_ms <= to_ms,
            )
            .order_by(WebhookEventRow.created_ms, WebhookEventRow.id)
            .limit(MAX_REDELIVER + 1)
        )
    )
    if len(rows) > MAX_REDELIVER:
        raise ClientError(
            Code.INVALID_REQUEST, f"at most {MAX_REDELIVER} events at once: narrow the range"
        )
    return rows
