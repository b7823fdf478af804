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
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update
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


_DELIVERIES = cast(Table, WebhookDeliveryRow.__table__)
_ENDPOINTS = cast(Table, WebhookEndpointRow.__table__)
_EVENTS = cast(Table, WebhookEventRow.__table__)
_ATTEMPTS = cast(Table, WebhookAttemptRow.__table__)
_d, _e = _DELIVERIES.c, _ENDPOINTS.c

# The statements of the delivery path are built once, against the tables, with bind
# parameters: executing one statement object again reuses its compiled form, where an ORM
# statement built per call cost most of a delivery's CPU (docs/benchmarks.md, "Webhooks").
_DUE = (
    _d.status == PENDING,
    _d.next_ms <= bindparam("now"),
    _d.lease_until_ms <= bindparam("now"),
    _e.active.is_(True),
)
_DUE_BRANDS = (
    select(_d.brand)
    .join(_ENDPOINTS, _e.id == _d.endpoint_id)
    .where(*_DUE)
    .group_by(_d.brand)
    .limit(bindparam("limit"))
)
_DUE_OF = (
    select(_d.id)
    .join(_ENDPOINTS, _e.id == _d.endpoint_id)
    .where(_d.brand == bindparam("brand"), *_DUE)
    .order_by(_d.next_ms, _d.id)
    .limit(bindparam("limit"))
)
_CLAIM = (
    update(_DELIVERIES)
    .where(
        _d.id.in_(bindparam("ids", expanding=True)),
        _d.status == PENDING,
        _d.lease_until_ms <= bindparam("now"),
    )
    .values(lease_until_ms=bindparam("until"), lease_owner=bindparam("owner"))
    .returning(_d.id)
)
_CLAIMED = (
    select(
        _d.id,
        _d.brand,
        _EVENTS.c.id,
        _EVENTS.c.type,
        _EVENTS.c.created_ms,
        _EVENTS.c.data,
        _e.url,
        _e.secret,
        _d.attempts,
        _d.window_ms,
    )
    .join(_EVENTS, _EVENTS.c.id == _d.event_id)
    .join(_ENDPOINTS, _e.id == _d.endpoint_id)
    .where(_d.id.in_(bindparam("ids", expanding=True)))
)
_LOG_ATTEMPT = insert(_ATTEMPTS)
_FINISH = (
    update(_DELIVERIES)
    .where(
        _d.id == bindparam("delivery"), _d.lease_owner == bindparam("owner"), _d.status == PENDING
    )
    .values(
        attempts=_d.attempts + 1,
        lease_until_ms=0,
        lease_owner=None,
        last_status_code=bindparam("code"),
        last_error=bindparam("error"),
        status=bindparam("new_status"),
        next_ms=bindparam("next"),
        delivered_ms=bindparam("delivered"),
    )
)


async def due_brands(db: AsyncSession, *, now_ms: int, limit: int) -> list[str]:
    """Brands with deliveries due now to active endpoints."""
    return list(await db.scalars(_DUE_BRANDS, {"now": now_ms, "limit": limit}))


async def due_of(db: AsyncSession, brand: str, *, now_ms: int, limit: int) -> list[str]:
    """Up to ``limit`` of the brand's due deliveries, the longest due first."""
    return list(await db.scalars(_DUE_OF, {"brand": brand, "now": now_ms, "limit": limit}))


async def claim(
    db: AsyncSession, delivery_ids: list[str], *, owner: str, now_ms: int, lease_ms: int
) -> list[Claimed]:
    """Take the lease of those of ``delivery_ids`` nobody holds; returns what was taken."""
    taken = list(
        await db.scalars(
            _CLAIM,
            {"ids": delivery_ids, "now": now_ms, "until": now_ms + lease_ms, "owner": owner},
        )
    )
    if not taken:
        return []
    rows = await db.execute(_CLAIMED, {"ids": taken})
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
    await db.execute(
        _LOG_ATTEMPT,
        [
            {
                "id": ids.new_id("wha"),
                "delivery_id": claimed.delivery_id,
                "brand": claimed.brand,
                "attempt": attempt,
                "started_ms": outcome.started_ms,
                "duration_ms": outcome.duration_ms,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "node_id": node_id,
            }
        ],
    )
    ended_ms = outcome.started_ms + outcome.duration_ms
    status, due, delivered = PENDING, ended_ms, None
    if outcome.delivered:
        status, delivered = DELIVERED, ended_ms
    else:
        retry = schedule.next_ms(attempts=attempt, now_ms=ended_ms, window_ms=claimed.window_ms)
        if retry is None:
            status = DEAD
        else:
            due = retry
    changed = await db.execute(
        _FINISH,
        {
            "delivery": claimed.delivery_id,
            "owner": owner,
            "code": outcome.status_code,
            "error": outcome.error,
            "new_status": status,
            "next": due,
            "delivered": delivered,
        },
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
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
