"""Redis loss: find the sessions whose Redis state is gone or stale and rebuild it from the record.

Contract: every `CHECK_INTERVAL_S` each node reads the Redis ``run_id``; when it changed (and
every `FULL_CHECK_INTERVAL_S` anyway) the node compares, for every session not ended, the Redis
epoch (the server's ``run_id`` the counters were built on) and the products' stock fields with
the record. A mismatch pauses the session's sales (reserves answer ``sale_paused``), then one
node rebuilds stock (``products.stock - committed_qty``), per-viewer counters, holds (reserved
orders and waitlist offers with their ``expires_ms``), idempotency records, coupon counters and
waitlist queues (the waiting entries, by position) from the database, and sales resume. The
database's conditional ``committed_qty`` update stays the final judge, so a stale Redis can
refuse a sale but never oversell.

An order reserved before the pause may still be writing its row while the rebuild reads the
record. Rather than wait a while and hope, the rebuild first bumps the products'
``stock_generation`` in the transaction that reads the record: an order that committed first is
in what the rebuild reads (the bump waits for its row lock), and one that comes later finds a
newer generation than its reserve reported and is refused (``sale_paused``, retry), so no order
is ever recorded without its hold, key and counters in the rebuilt Redis.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict

from sqlalchemy import func, select, update

from common import loops
from common.errors import ClientError
from inventory import keys as inventory_keys
from inventory import recovery
from inventory.errors import InventoryUnavailable
from inventory.recovery import HoldState, SessionState
from live.commerce import waitlist_records
from live.commerce.order_records import COMMITTED, HOLDING, SALE_OPEN
from live.context import Context
from live.db.models import CouponClaimRow, CouponRow, OrderRow, ProductRow, SaleRow, SessionRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from live.sessions import session_records

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.5
FULL_CHECK_INTERVAL_S = 5.0


async def state_of(ctx: Context, session_id: str) -> SessionState:
    """The Redis sales state of a session as the record dictates it, on a new generation.

    Orders reserved on the previous generation and not yet recorded are refused from now on.
    """
    state = SessionState()
    now = now_ms()
    ttl_ms = ctx.settings.idempotency_ttl_s * 1000
    async with transaction(ctx.db) as db:
        # First statement of the transaction: it takes every product row's lock, so it waits
        # for orders being recorded, and those recorded later see the new generation.
        await db.execute(
            update(ProductRow)
            .where(ProductRow.session_id == session_id)
            .values(stock_generation=ProductRow.stock_generation + 1)
        )
        for product in await session_records.products_of(db, session_id):
            state.stock[product.id] = product.stock - product.committed_qty
            state.generations[product.id] = product.stock_generation
        orders = await db.scalars(
            select(OrderRow).where(
                OrderRow.session_id == session_id, OrderRow.created_ms > now - ttl_ms
            )
        )
        bought: dict[str, int] = defaultdict(int)
        for order in orders:
            if not order.idempotency_key.startswith(waitlist_records.OFFER_KEY_PREFIX):
                # An offer not taken answers no key of its viewer's.
                recorded = f"ok|{order.id}|{order.request_hash}"
                ttl_s = max(1, (order.created_ms + ttl_ms - now) // 1000)
                state.idempotency[(order.viewer_id, order.idempotency_key)] = (recorded, ttl_s)
            hold = HoldState(
                order.id,
                order.product_id,
                order.viewer_id,
                order.qty,
                order.expires_ms,
                sale_id=order.sale_id,
            )
            if order.status in COMMITTED:
                bought[hold.counter] += order.qty
            if order.status in HOLDING:
                state.holds.append(hold)
        state.bought = dict(bought)
        for sale in await db.scalars(
            select(SaleRow).where(SaleRow.session_id == session_id, SaleRow.status == SALE_OPEN)
        ):
            state.stock[inventory_keys.sale_field(sale.id)] = sale.stock_cap - sale.sold_qty
        state.queues = await waitlist_records.waiting_queues(db, session_id)
        coupons = await db.scalars(select(CouponRow).where(CouponRow.session_id == session_id))
        claims = await db.execute(
            select(CouponClaimRow.coupon_id, CouponClaimRow.viewer_id, func.count())
            .where(CouponClaimRow.session_id == session_id)
            .group_by(CouponClaimRow.coupon_id, CouponClaimRow.viewer_id)
        )
        claimed: dict[str, int] = defaultdict(int)
        for coupon_id, viewer_id, count in claims:
            state.coupons_claimed[f"{coupon_id}|{viewer_id}"] = int(count)
            claimed[coupon_id] += int(count)
        for coupon in coupons:
            state.coupons_left[coupon.id] = max(0, coupon.quantity - claimed[coupon.id])
            if coupon.expires_ms is not None:
                state.coupon_expiry[coupon.id] = coupon.expires_ms
    return state


async def rebuild(ctx: Context, session_ids: list[str], *, epoch: str) -> list[str]:
    """Pause and rebuild sessions on Redis ``epoch``; returns those this node rebuilt.

    A session whose rebuild lease another node holds is skipped (that node rebuilds it).
    """
    mine = [
        sid for sid in session_ids if await recovery.lease(ctx.redis, sid, ctx.settings.node_id)
    ]
    try:
        for session_id in mine:
            await recovery.pause(ctx.redis, session_id)
        for session_id in mine:
            state = await state_of(ctx, session_id)
            await recovery.restore(ctx.redis, session_id, state, epoch=epoch)
            log.warning(
                "session %s: Redis state rebuilt from the record (%d products, %d holds)",
                session_id,
                len(state.stock),
                len(state.holds),
            )
    except (ClientError, InventoryUnavailable):
        for session_id in mine:
            with contextlib.suppress(InventoryUnavailable):
                await recovery.drop_lease(ctx.redis, session_id)
        raise
    return mine


async def check(ctx: Context) -> list[str]:
    """One pass: rebuild every session whose Redis state is stale; returns their ids."""
    epoch = await recovery.run_id(ctx.redis)
    async with transaction(ctx.db) as db:
        rows = await db.execute(
            select(SessionRow.id, ProductRow.id)
            .outerjoin(ProductRow, ProductRow.session_id == SessionRow.id)
            .where(SessionRow.status != session_records.ENDED)
        )
    products: dict[str, list[str]] = defaultdict(list)
    for session_id, product_id in rows:
        products[session_id].extend([product_id] if product_id else [])
    stale = [
        session_id
        for session_id, product_ids in products.items()
        if not await recovery.healthy(ctx.redis, session_id, epoch=epoch, product_ids=product_ids)
    ]
    return await rebuild(ctx, stale, epoch=epoch) if stale else []


async def run(ctx: Context) -> None:
    """Check until the app stops; an engine outage only delays the next pass.

    Every pass reads only the Redis ``run_id``; the sessions are compared with the record when
    it changed, and every `FULL_CHECK_INTERVAL_S` otherwise (keys lost without a restart), so a
    node's database sees one small query every few seconds, not two a second.
    """
    seen: str | None = None
    checked_at = float("-inf")
    loop = asyncio.get_running_loop()

    async def one_pass() -> None:
        nonlocal seen, checked_at
        epoch = await recovery.run_id(ctx.redis)
        if epoch != seen or loop.time() - checked_at >= FULL_CHECK_INTERVAL_S:
            await check(ctx)
            seen, checked_at = epoch, loop.time()

    await loops.forever(
        one_pass,
        every_s=CHECK_INTERVAL_S,
        doing="Redis state check",
        log=log,
        stopping=ctx.stopping,
    )
