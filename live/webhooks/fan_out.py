"""Turning outbox events into deliveries: one per endpoint subscribed when the event happened.

Contract: each event is fanned out exactly once across all nodes. A batch of events is taken
by one conditional update (``fanned_out`` false -> true, ``RETURNING`` the rows this node
changed), and their deliveries are inserted in the same transaction: two nodes racing on the
same events get disjoint sets (PostgreSQL re-checks the condition after the other's commit;
SQLite has one writer), and a node dying in between rolls both back. An endpoint receives the
events of its types created at or after its own creation; deleted endpoints receive none.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.commerce.order_records import RESERVED
from live.db.models import OrderRow, WebhookDeliveryRow, WebhookEndpointRow, WebhookEventRow
from live.platform import ids
from live.webhooks import endpoints, events, outbox

#: Events fanned out in one transaction at most.
BATCH = 500

_DELIVERIES = cast(Table, WebhookDeliveryRow.__table__)
_INSERT_DELIVERIES = insert(_DELIVERIES)
_ORDERS = cast(Table, OrderRow.__table__)
_o = _ORDERS.c
_INSERT_EVENTS = insert(cast(Table, WebhookEventRow.__table__))


async def reserved_orders(db: AsyncSession, *, limit: int = BATCH) -> int:
    """Write the ``order.reserved`` events of up to ``limit`` orders still pending theirs
    (as they were reserved: no payment, no commission yet); returns how many orders were
    looked at. Taken by one conditional update, like `fan_out`, so each order's event is
    written once over all nodes."""
    waiting = list(
        await db.scalars(
            select(_o.id).where(_o.webhook_pending == true()).order_by(_o.created_ms).limit(limit)
        )
    )
    if not waiting:
        return 0
    taken = await db.execute(
        update(_ORDERS)
        .where(_o.id.in_(waiting), _o.webhook_pending == true())
        .values(webhook_pending=False)
        .returning(*_ORDERS.c)
    )
    rows = []
    for taken_row in taken:
        order = OrderRow(**taken_row._mapping)
        data = events.order_data(
            order,
            status=RESERVED,
            paid_ms=None,
            refunded_ms=None,
            commission_cents=None,
            upstream_commission_cents=None,
        )
        rows.append(outbox.row(order.brand, events.ORDER_RESERVED, data, order.created_ms))
    if rows:
        await db.execute(_INSERT_EVENTS, rows)
    return len(waiting)


async def fan_out(db: AsyncSession, *, now_ms: int, limit: int = BATCH) -> int:
    """Fan out up to ``limit`` events not fanned out yet; returns how many events were looked
    at (``limit`` means more may be waiting)."""
    waiting = list(
        await db.scalars(
            select(WebhookEventRow.id)
            .where(WebhookEventRow.fanned_out.is_(False))
            .order_by(WebhookEventRow.created_ms, WebhookEventRow.id)
            .limit(limit)
        )
    )
    if not waiting:
        return 0
    taken = (
        await db.execute(
            update(WebhookEventRow)
            .where(WebhookEventRow.id.in_(waiting), WebhookEventRow.fanned_out.is_(False))
            .values(fanned_out=True)
            .returning(
                WebhookEventRow.id,
                WebhookEventRow.brand,
                WebhookEventRow.type,
                WebhookEventRow.created_ms,
            )
        )
    ).all()
    if taken:
        await _insert_deliveries(db, taken, now_ms=now_ms)
    return len(waiting)


async def _insert_deliveries(db: AsyncSession, taken: Sequence[Any], *, now_ms: int) -> None:
    brands = {brand for _, brand, _, _ in taken}
    subscribed: dict[str, list[WebhookEndpointRow]] = defaultdict(list)
    for row in await db.scalars(
        select(WebhookEndpointRow).where(
            WebhookEndpointRow.brand.in_(brands), WebhookEndpointRow.deleted_ms.is_(None)
        )
    ):
        subscribed[row.brand].append(row)
    kinds = {row.id: set(endpoints.types_of(row)) for rows in subscribed.values() for row in rows}
    rows = [
        new_delivery(event_id, endpoint.id, brand, now_ms=now_ms)
        for event_id, brand, kind, created_ms in taken
        for endpoint in subscribed[brand]
        if kind in kinds[endpoint.id] and endpoint.created_ms <= created_ms
    ]
    if rows:
        await db.execute(_INSERT_DELIVERIES, rows)


def new_delivery(event_id: str, endpoint_id: str, brand: str, *, now_ms: int) -> dict[str, Any]:
    """The columns of a delivery due now, its retry window opening now."""
    return {
        "id": ids.new_id("whd"),
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "brand": brand,
        "status": endpoints.PENDING,
        "attempts": 0,
        "next_ms": now_ms,
        "window_ms": now_ms,
        "lease_until_ms": 0,
        "lease_owner": None,
        "last_status_code": None,
        "last_error": None,
        "created_ms": now_ms,
        "delivered_ms": None,
    }
