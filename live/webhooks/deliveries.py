"""Deliveries as records: which are due, taking one (a lease in its row), and its outcome.

Contract: a node delivers a delivery only while it holds the row's lease, taken by a
conditional update (``lease_until_ms`` passed, still pending), so one node at a time sends
an event to an endpoint. A node that dies mid-delivery leaves the lease to run out; another
node then sends the same event again, with the same ``webhook-id``. An outcome is written only
by the lease's holder (a holder whose lease ran out and was taken over writes only its attempt
to the log): a 2xx answer makes the delivery ``delivered``, anything else schedules the next
attempt (`live.webhooks.schedule`) or makes it ``dead``.
"""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.models import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from live.platform import ids
from live.webhooks.endpoints import DEAD, DELIVERED, PENDING
from live.webhooks.schedule import Schedule

_D = WebhookDeliveryRow


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this node holds the lease of, with what it needs to send it."""

    delivery_id: str
    brand: str
    event_id: str
    event_type: str
    event_created_ms: int
    data: str
    url: str
    secret: str
    attempts: int
    window_ms: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """One HTTP attempt: the answer's status (None: no answer) or the error, and its time."""

    started_ms: int
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _due(now_ms: int) -> tuple[ColumnElement[bool], ...]:
    return (
        _D.status == PENDING,
        _D.next_ms <= now_ms,
        _D.lease_until_ms <= now_ms,
        WebhookEndpointRow.active.is_(True),
    )


async def due_brands(db: AsyncSession, *, now_ms: int, limit: int) -> list[str]:
    """Brands with deliveries due now to active endpoints."""
    rows = await db.scalars(
        select(_D.brand)
        .join(WebhookEndpointRow, WebhookEndpointRow.id == _D.endpoint_id)
        .where(*_due(now_ms))
        .group_by(_D.brand)
        .limit(limit)
    )
    return list(rows)


async def due_of(db: AsyncSession, brand: str, *, now_ms: int, limit: int) -> list[str]:
    """Up to ``limit`` of the brand's due deliveries, the longest due first."""
    rows = await db.scalars(
        select(_D.id)
        .join(WebhookEndpointRow, WebhookEndpointRow.id == _D.endpoint_id)
        .where(_D.brand == brand, *_due(now_ms))
        .order_by(_D.next_ms, _D.id)
        .limit(limit)
    )
    return list(rows)


async def claim(
    db: AsyncSession, delivery_ids: list[str], *, owner: str, now_ms: int, lease_ms: int
) -> list[Claimed]:
    """Take the lease of those of ``delivery_ids`` nobody holds; returns what was taken."""
    taken = list(
        await db.scalars(
            update(_D)
            .where(_D.id.in_(delivery_ids), _D.status == PENDING, _D.lease_until_ms <= now_ms)
            .values(lease_until_ms=now_ms + lease_ms, lease_owner=owner)
            .returning(_D.id)
        )
    )
    if not taken:
        return []
    rows = await db.execute(
        select(
            _D.id,
            _D.brand,
            WebhookEventRow.id,
            WebhookEventRow.type,
            WebhookEventRow.created_ms,
            WebhookEventRow.data,
            WebhookEndpointRow.url,
            WebhookEndpointRow.secret,
            _D.attempts,
            _D.window_ms,
        )
        .join(WebhookEventRow, WebhookEventRow.id == _D.event_id)
        .join(WebhookEndpointRow, WebhookEndpointRow.id == _D.endpoint_id)
        .where(_D.id.in_(taken))
    )
    return [
        Claimed(
            delivery_id=row[0],
            brand=row[1],
            event_id=row[2],
            event_type=row[3],
            event_created_ms=row[4],
            data=row[5],
            url=row[6],
            secret=row[7],
            attempts=row[8],
            window_ms=row[9],
        )
        for row in rows
    ]


async def finish(
    db: AsyncSession,
    claimed: Claimed,
    outcome: Outcome,
    *,
    owner: str,
    node_id: str,
    schedule: Schedule,
) -> str | None:
    """Log the attempt and, if this node still holds the lease, write the delivery's new
    status (returned; None when the lease was lost)."""
    attempt = claimed.attempts + 1
    db.add(
        WebhookAttemptRow(
            id=ids.new_id("wha"),
            delivery_id=claimed.delivery_id,
            brand=claimed.brand,
            attempt=attempt,
            started_ms=outcome.started_ms,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error,
            node_id=node_id,
        )
    )
    ended_ms = outcome.started_ms + outcome.duration_ms
    values: dict[str, object] = {
        "attempts": _D.attempts + 1,
        "lease_until_ms": 0,
        "lease_owner": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.delivered:
        values |= {"status": DELIVERED, "delivered_ms": ended_ms}
    else:
        due = schedule.next_ms(attempts=attempt, now_ms=ended_ms, window_ms=claimed.window_ms)
        values |= {"status": DEAD} if due is None else {"next_ms": due}
    changed = await db.execute(
        update(_D)
        .where(_D.id == claimed.delivery_id, _D.lease_owner == owner, _D.status == PENDING)
        .values(**values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    status = values.get("status", PENDING)
    assert isinstance(status, str)
    return status


async def backlog(db: AsyncSession) -> int:
    """Events not fanned out yet plus deliveries pending, over every brand."""
    waiting = await db.scalar(
        select(func.count())
        .select_from(WebhookEventRow)
        .where(WebhookEventRow.fanned_out.is_(False))
    )
    pending = await db.scalar(select(func.count()).select_from(_D).where(_D.status == PENDING))
    return int(waiting or 0) + int(pending or 0)
