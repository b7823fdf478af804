"""Holds given back: a reserved order cancelled by its buyer (or a host or admin of its brand),
a waitlist offer declined, and the reaper of expired holds and lapsed offers, exactly once, on
any number of nodes.

Contract: for each expired hold the record is settled first (reserved -> expired in one
conditional update, which also returns the units to ``committed_qty`` and frees the coupon);
then Redis releases the hold, which only the first caller can do. A hold whose order turned
out paid is committed instead of released. Cancelling an order is the same settlement with
another final status, so a cancel racing the reaper (or itself) gives the units back once.
Cancelling an order that is already cancelled or expired changes nothing; a paid order cannot
be cancelled.
"""

import logging
from typing import Any

from sqlalchemy import true, update

from common import loops
from common.errors import ClientError, Code
from inventory import keys as inventory_keys
from live.auth.tokens import Principal, Role
from live.commerce import offers, order_records, waitlist_records
from live.commerce.order_records import (
    CANCELLED,
    EXPIRED,
    HOLDING,
    OFFERED,
    PAID,
    PASSED,
    REFUND_REQUIRED,
    return_units,
)
from live.context import Context
from live.db.models import OrderRow, SessionRow
from live.db.unit import transaction
from live.guides import workspace_feed
from live.platform.clock import now_ms
from live.sessions import session_records
from live.webhooks import events, outbox
from realtime.bus import BusUnavailable

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0


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
    await settle(ctx, order.session_id, order_id, status=CANCELLED)
    async with transaction(ctx.db) as db:
        settled = await db.get(OrderRow, order_id)
    assert settled is not None
    if settled.status == PAID:
        raise ClientError(Code.CONFLICT, "the order was paid meanwhile; it cannot be cancelled")
    return order_records.order_view(settled)


async def expire(ctx: Context, session_id: str, order_id: str, *, due_only: bool = False) -> bool:
    """Settle one expired hold; True when its units went back to stock now. With
    ``due_only`` (the reaper, which found the hold by its expiry in Redis) only when its time
    has come in the record too: an offer taken since holds on."""
    return await settle(ctx, session_id, order_id, status=EXPIRED, due_only=due_only)


async def settle(
    ctx: Context, session_id: str, order_id: str, *, status: str, due_only: bool = False
) -> bool:
    """End a reserved order with ``status`` (expired or cancelled), or a waitlist offer
    (``passed``, whether it lapsed or was declined), and give its hold back: its unit goes to
    the next waiting viewer, if any.

    With ``due_only``, only a hold whose time has come in the record ends: an offer taken
    meanwhile holds on, and its hold's expiry in Redis is moved to the record's. A holding
    order that changed meanwhile (paid, say) keeps its units. True when this call returned the
    units to Redis stock; calling it again is harmless.
    """
    now = now_ms()
    ended: OrderRow | None = None
    async with transaction(ctx.db) as db:
        session = await db.get(SessionRow, session_id)
        order = await db.get(OrderRow, order_id)
        if order is not None and order.status in HOLDING:
            was = order.status
            final = PASSED if was == OFFERED else status
            due = OrderRow.expires_ms <= now if due_only else true()
            changed = await db.execute(
                update(OrderRow)
                .where(OrderRow.id == order_id, OrderRow.status == was, due)
                .values(status=final)
            )
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                await return_units(db, order)
                order.status = final
                if was == OFFERED:
                    await waitlist_records.end_offer(db, order_id, status=PASSED, now_ms=now)
                else:
                    ended = order
                    data = events.order_data(order)
                    await outbox.add(db, order.brand, events.ORDER_CANCELLED, data, now_ms=now)
    if ended is not None and ended.guide_id is not None:
        workspace_feed.tell_soon(
            ctx.bus,
            session_id,
            ended.guide_id,
            "hold",
            viewer_id=ended.viewer_id,
            order_id=ended.id,
            status=ended.status,
        )
    if order is not None and order.status == PAID:
        await ctx.stock.commit(session_id, order_id)
        return False
    if order is not None and order.status in HOLDING:
        await ctx.stock.rescore(session_id, order_id, order.expires_ms)
        return False
    released = await ctx.stock.release(session_id, order_id)
    if released is None:
        return False
    ts = now_ms()
    clock = {"ts": ts, "t_ms": session_records.t_ms(session, ts) if session else 0}
    try:
        await ctx.bus.publish(
            session_id,
            "stock",
            {
                "levels": {released.product_id: released.stock_left},
                "version": released.version,
                **clock,
            },
        )
    except BusUnavailable as exc:
        log.warning("stock of %s not announced: %s", session_id, exc)
    if order is not None:
        offers.pump_soon(ctx, order.brand, session_id, released.product_id)
    return True


async def sweep(ctx: Context) -> int:
    """One pass over every session with holds; returns how many holds were released."""
    released = 0
    members = await ctx.redis.smembers(inventory_keys.SESSIONS_WITH_HOLDS)
    for member in members:
        session_id = member.decode() if isinstance(member, bytes) else str(member)
        for order_id in await ctx.stock.expired_holds(session_id, now_ms=now_ms()):
            if await expire(ctx, session_id, order_id, due_only=True):
                released += 1
    return released


async def run(ctx: Context) -> None:
    """Sweep until the app stops; errors of one pass are logged and the next pass retries."""
    await loops.forever(
        lambda: sweep(ctx),
        every_s=SWEEP_INTERVAL_S,
        doing="hold sweep",
        log=log,
        stopping=ctx.stopping,
    )
