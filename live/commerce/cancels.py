"""Cancelling a reserved order: its buyer, or a host or admin of its brand, gives the hold back.

Contract: the record is settled first (reserved -> cancelled, units and coupon claim returned
in the same transaction), then Redis releases the hold exactly once (`holds.settle`). Cancelling
an order that is already cancelled or expired changes nothing; a paid order cannot be cancelled.
"""

from typing import Any

from live import holds, views
from live.auth import Principal, Role
from live.context import Context
from live.db.models import OrderRow
from live.db.unit import transaction
from live.orders import CANCELLED, PAID, REFUND_REQUIRED
from realtime.errors import ClientError, Code


async def cancel(ctx: Context, principal: Principal, order_id: str) -> dict[str, Any]:
    """Cancel ``order_id`` for ``principal``; returns the order as it is afterwards."""
    async with transaction(ctx.db) as db:
        order = await db.get(OrderRow, order_id)
    visible = order is not None and order.brand == principal.brand
    if visible and principal.role == Role.VIEWER:
        visible = order is not None and order.viewer_id == principal.sub
    if order is None or not visible:
        raise ClientError(Code.NOT_FOUND, "no such order")
    if order.status in (PAID, REFUND_REQUIRED):
        raise ClientError(Code.CONFLICT, f"the order is {order.status}; it cannot be cancelled")
    # Settling a cancelled or expired order again only retries a release that Redis missed.
    await holds.settle(ctx, order.session_id, order_id, status=CANCELLED)
    async with transaction(ctx.db) as db:
        settled = await db.get(OrderRow, order_id)
    assert settled is not None
    if settled.status == PAID:
        raise ClientError(Code.CONFLICT, "the order was paid meanwhile; it cannot be cancelled")
    return views.order(settled)
