"""Placing orders: reserve in Redis (one Lua call), then write the order in the record.

Contract: stock is taken in Redis first (fast, atomic, per-viewer limit, idempotency key);
the order row is then written in one transaction together with a conditional update of the
product's ``committed_qty`` (the record's own refusal to oversell) and the attributed guide.
If that transaction fails the hold is released and the key forgotten, so a retry starts over.
"""

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inventory.errors import InventoryUnavailable
from inventory.stock import Refusal, Refused, Replayed, Reserved
from live import attribution, coupons, ids, sales, sessions, views
from live.auth import Principal
from live.clock import now_ms
from live.context import Context
from live.db.models import CouponClaimRow, OrderRow, ProductRow, SaleRow
from live.db.unit import transaction
from realtime import codec
from realtime.bus import BusUnavailable
from realtime.errors import ClientError, Code

log = logging.getLogger(__name__)

RESERVED, PAID, EXPIRED = "reserved", "paid", "expired"
CANCELLED, REFUND_REQUIRED = "cancelled", "refund_required"
#: Statuses whose units count in ``products.committed_qty`` (held or sold).
COMMITTED = (RESERVED, PAID)
REPLAY_WAIT_S = 5.0
REPLAY_POLL_S = 0.05

_REFUSALS = {
    Refusal.SOLD_OUT: (Code.SOLD_OUT, "the product is sold out"),
    Refusal.LIMIT_EXCEEDED: (Code.LIMIT_EXCEEDED, "this exceeds the per-viewer limit"),
    Refusal.NOT_LOADED: (Code.SALE_PAUSED, "sales of this session are paused; retry shortly"),
}


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated ``POST /orders`` body plus its idempotency key."""

    product_id: str
    qty: int
    coupon_id: str | None
    idempotency_key: str

    def fingerprint(self) -> str:
        """Hash of the body: the same key must come with the same body."""
        body = codec.encode([self.product_id, self.qty, self.coupon_id])
        return hashlib.sha256(body).hexdigest()


def _refuse(reason: Refusal) -> ClientError:
    code, message = _REFUSALS[reason]
    return ClientError(code, message)


async def _replay(
    ctx: Context, outcome: Replayed, request: OrderRequest, *, session_id: str, viewer_id: str
) -> dict[str, Any]:
    if outcome.request_hash != request.fingerprint():
        raise ClientError(
            Code.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used with another body"
        )
    if outcome.order_id is None:
        raise _refuse(outcome.reason or Refusal.SOLD_OUT)
    # The first request may still be writing its row: wait for it a little.
    deadline = asyncio.get_running_loop().time() + REPLAY_WAIT_S
    while True:
        row = await _order_row(ctx, outcome.order_id)
        if row is not None:
            return views.order(row)
        # No row and no hold: the first attempt died after its reserve, or a rebuild of the
        # Redis counters fenced it off (see `live.recovery`); it will never write its row, so
        # a retry starts over. The row is read again after the hold so that an order recorded
        # in between is not missed.
        if await _held(ctx, session_id, outcome.order_id) is False:
            if (row := await _order_row(ctx, outcome.order_id)) is not None:
                return views.order(row)
            await ctx.stock.forget(
                session_id, viewer_id=viewer_id, idempotency_key=request.idempotency_key
            )
            raise ClientError(Code.REQUEST_IN_PROGRESS, "the first request was lost; retry")
        if asyncio.get_running_loop().time() > deadline:
            raise ClientError(Code.REQUEST_IN_PROGRESS, "the first request is still in progress")
        await asyncio.sleep(REPLAY_POLL_S)


async def _order_row(ctx: Context, order_id: str) -> OrderRow | None:
    async with transaction(ctx.db) as db:
        return await db.get(OrderRow, order_id)


async def _held(ctx: Context, session_id: str, order_id: str) -> bool | None:
    """Whether the order's hold is in Redis; None when Redis cannot say."""
    try:
        return await ctx.stock.is_held(session_id, order_id)
    except InventoryUnavailable:
        return None


@dataclass(frozen=True, slots=True)
class Terms:
    """What an order buys at: the product, the open sale (if any), unit price, limit, coupon."""

    product: ProductRow
    sale: SaleRow | None
    unit_price_cents: int
    limit_per_viewer: int | None
    claim: CouponClaimRow | None
    discount_cents: int


async def _price(db: AsyncSession, session_id: str, viewer_id: str, request: OrderRequest) -> Terms:
    """The terms of an order: a flash sale's price and limit within its window."""
    product = await db.get(ProductRow, request.product_id)
    if product is None or product.session_id != session_id:
        raise ClientError(Code.NOT_FOUND, f"no product {request.product_id} in this session")
    sale = await sales.active_sale(db, product.id)
    unit, limit = product.price_cents, product.limit_per_viewer
    if sale is not None:
        sales.check_window(sale, now_ms())
        unit, limit = sale.sale_price_cents, sale.per_viewer_limit or product.limit_per_viewer
    claim, discount = None, 0
    if request.coupon_id is not None:
        claim, discount = await coupons.discount_for(
            db,
            coupon_id=request.coupon_id,
            session_id=session_id,
            viewer_id=viewer_id,
            subtotal_cents=unit * request.qty,
        )
    return Terms(product, sale, unit, limit, claim, discount)


async def place(
    ctx: Context, principal: Principal, session_id: str, request: OrderRequest
) -> dict[str, Any]:
    """Reserve and record an order; returns its view (the same one for a retried key)."""
    # One read transaction for the session, the product and the coupon: on SQLite every
    # transaction takes the write lock, and this path runs for every buyer of a flash sale.
    async with transaction(ctx.db) as db:
        session = await sessions.load(db, principal.brand, session_id)
        live = session.status == sessions.LIVE
        priced = await _price(db, session_id, principal.sub, request) if live else None
    if priced is None:
        # A retry of a request that got through while the session was live gets its answer.
        earlier = await ctx.stock.recorded(
            session_id, viewer_id=principal.sub, idempotency_key=request.idempotency_key
        )
        if earlier is not None:
            return await _replay(
                ctx, earlier, request, session_id=session_id, viewer_id=principal.sub
            )
        code = Code.SESSION_ENDED if session.status == sessions.ENDED else Code.SESSION_NOT_LIVE
        raise ClientError(code, f"the session is {session.status}")
    product, claim, discount = priced.product, priced.claim, priced.discount_cents
    sale_id = priced.sale.id if priced.sale else None
    subtotal = priced.unit_price_cents * request.qty
    binding = await attribution.lookup(ctx.redis, principal.brand, principal.sub)
    order_id = ids.new_id("ord")
    created = now_ms()
    expires = created + ctx.settings.hold_ttl_s * 1000
    outcome = await ctx.stock.reserve(
        session_id,
        product_id=product.id,
        viewer_id=principal.sub,
        qty=request.qty,
        limit_per_viewer=priced.limit_per_viewer,
        order_id=order_id,
        expires_ms=expires,
        idempotency_key=request.idempotency_key,
        request_hash=request.fingerprint(),
        sale_id=sale_id,
    )
    if isinstance(outcome, Replayed):
        return await _replay(ctx, outcome, request, session_id=session_id, viewer_id=principal.sub)
    if isinstance(outcome, Refused):
        raise _refuse(outcome.reason)
    order = OrderRow(
        id=order_id,
        brand=principal.brand,
        session_id=session_id,
        product_id=product.id,
        viewer_id=principal.sub,
        qty=request.qty,
        unit_price_cents=priced.unit_price_cents,
        discount_cents=discount,
        amount_cents=subtotal - discount,
        coupon_id=request.coupon_id,
        status=RESERVED,
        guide_id=binding.guide_id if binding else None,
        guide_store=binding.store if binding else None,
        attributed_ms=binding.touch_ms if binding else None,
        idempotency_key=request.idempotency_key,
        request_hash=request.fingerprint(),
        created_ms=created,
        expires_ms=expires,
        sale_id=sale_id,
    )
    try:
        await record(ctx, order, claim, generation=outcome.generation)
    except ClientError:
        # The hold may already be gone (a rebuild dropped it), so the key is forgotten on its
        # own as well: a retry must start over, not replay an order that was never recorded.
        with contextlib.suppress(InventoryUnavailable):
            await ctx.stock.release(session_id, order_id)
            await ctx.stock.forget(
                session_id, viewer_id=principal.sub, idempotency_key=request.idempotency_key
            )
        raise
    await _announce(ctx, session, order, outcome, principal)
    return views.order(order)


async def return_units(db: AsyncSession, order: OrderRow) -> None:
    """Give an order's units back to the product (and its sale) and free its coupon claim."""
    await db.execute(
        update(ProductRow)
        .where(ProductRow.id == order.product_id)
        .values(committed_qty=ProductRow.committed_qty - order.qty)
    )
    if order.sale_id is not None:
        await db.execute(
            update(SaleRow)
            .where(SaleRow.id == order.sale_id)
            .values(sold_qty=SaleRow.sold_qty - order.qty)
        )
    await db.execute(
        update(CouponClaimRow).where(CouponClaimRow.order_id == order.id).values(order_id=None)
    )


async def record(
    ctx: Context, order: OrderRow, claim: CouponClaimRow | None, *, generation: int
) -> None:
    """Write the order, counting its units in the product (and sale) the record's way.

    The product must still be on the ``generation`` the reserve took the units from: after a
    rebuild of the Redis counters, an order reserved before it is refused (`live.recovery`).
    """
    async with transaction(ctx.db) as db:
        taken = await db.execute(
            update(ProductRow)
            .where(
                ProductRow.id == order.product_id,
                ProductRow.stock_generation == generation,
                ProductRow.committed_qty + order.qty <= ProductRow.stock,
            )
            .values(committed_qty=ProductRow.committed_qty + order.qty)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            current = await db.scalar(
                select(ProductRow.stock_generation).where(ProductRow.id == order.product_id)
            )
            if current != generation:
                raise _refuse(Refusal.NOT_LOADED)
            raise ClientError(Code.SOLD_OUT, "the product is sold out")
        if order.sale_id is not None:
            capped = await db.execute(
                update(SaleRow)
                .where(
                    SaleRow.id == order.sale_id,
                    SaleRow.sold_qty + order.qty <= SaleRow.stock_cap,
                )
                .values(sold_qty=SaleRow.sold_qty + order.qty)
            )
            if capped.rowcount != 1:  # type: ignore[attr-defined]
                raise ClientError(Code.SOLD_OUT, "the flash sale is sold out")
        if claim is not None:
            used = await db.execute(
                update(CouponClaimRow)
                .where(CouponClaimRow.id == claim.id, CouponClaimRow.order_id.is_(None))
                .values(order_id=order.id)
            )
            if used.rowcount != 1:  # type: ignore[attr-defined]
                raise ClientError(Code.COUPON_NOT_CLAIMED, "the coupon was used meanwhile")
        db.add(order)


async def _announce(
    ctx: Context,
    session: Any,
    order: OrderRow,
    outcome: Reserved,
    principal: Principal,
) -> None:
    ts = now_ms()
    clock = {"ts": ts, "t_ms": sessions.t_ms(session, ts)}
    user = principal.name or principal.sub
    try:
        await ctx.bus.publish(
            order.session_id,
            "purchase",
            {"product_id": order.product_id, "user": user, "qty": order.qty, **clock},
        )
        await ctx.bus.publish(
            order.session_id,
            "stock",
            {"levels": {order.product_id: outcome.stock_left}, "version": outcome.version, **clock},
        )
        if outcome.stock_left == 0:
            # Only the reserve that took the last unit sees 0, so the event is sent once per
            # sell-out (again only if stock came back and sold out again).
            await ctx.bus.publish(
                order.session_id, "sold_out", {"product_id": order.product_id, **clock}
            )
    except BusUnavailable as exc:
        # The order is recorded; the ticker is best effort and the next stock event corrects
        # the levels viewers see.
        log.warning("order %s recorded but not announced: %s", order.id, exc)
