"""Units back into stock outside a hold: a paid order refunded before shipping, and a product's
allocation changed by the host. Viewers waiting for the product get such units first
(`live.commerce.offers`).

Contract: the record changes first, in one transaction with its own check (an allocation
never below the units held or sold; a refund puts its units back once), then Redis follows
(`Stock.give_back`). If Redis cannot follow, the session's sales are paused, so the periodic
check rebuilds its counters from the record (`live.commerce.stock_recovery`); if Redis cannot
even be paused the call answers ``unavailable`` and the record keeps the change: sales never
oversell meanwhile (Redis holds fewer units than the record allows), and the next rebuild
restores them.
"""

import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import ClientError, Code
from inventory import keys as inventory_keys
from inventory import recovery
from inventory.errors import InventoryUnavailable
from inventory.stock import Released
from live.auth.tokens import Principal
from live.commerce import offers, order_records
from live.context import Context
from live.db.models import OrderRow, ProductRow, SaleRow, SessionRow
from live.db.unit import transaction
from live.guides import commission
from live.platform.clock import now_ms
from live.sessions import session_records
from realtime.bus import BusUnavailable

log = logging.getLogger(__name__)


async def set_stock(
    ctx: Context, principal: Principal, session_id: str, product_id: str, stock: int
) -> ProductRow:
    """Set a product's allocation to ``stock`` (``conflict`` below its units held or sold)."""
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
        if session.status == session_records.ENDED:
            raise ClientError(Code.SESSION_ENDED, "the session has ended")
        product = await db.get(ProductRow, product_id)
        if product is None or product.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no product {product_id} in this session")
        before = product.stock
        changed = await db.execute(
            update(ProductRow)
            .where(ProductRow.id == product_id, ProductRow.committed_qty <= stock)
            .values(stock=stock)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise ClientError(
                Code.CONFLICT, "more units are held or sold than that: the stock cannot be lower"
            )
        await db.refresh(product)
    if stock != before:
        released = await _give_back(ctx, session_id, product_id, stock - before)
        await _announce(ctx, session, released)
        if stock > before:
            offers.pump_soon(ctx, principal.brand, session_id, product_id)
    return product


async def refund(ctx: Context, principal: Principal, order_id: str, *, restock: bool) -> OrderRow:
    """Refund a paid order (`live.guides.commission.refund`); with ``restock`` (it was not
    shipped) its units go back into stock, once however often this is repeated."""
    now = now_ms()
    async with transaction(ctx.db) as db:
        order = await commission.refund(db, principal.brand, order_id, now_ms=now)
        restocked = False
        if restock:
            restocked = await _restock(db, order, now)
        session = await db.get(SessionRow, order.session_id)
    # Orders bought from a clip after the end never held Redis units (`live.clips.purchases`).
    if restocked and order.clip_id is None:
        scope = inventory_keys.sale_field(order.sale_id) if order.sale_id else order.product_id
        released = await _give_back(
            ctx,
            order.session_id,
            order.product_id,
            order.qty,
            counter=f"{scope}|{order.viewer_id}",
            sale_id=order.sale_id,
        )
        if session is not None:
            await _announce(ctx, session, released)
        offers.pump_soon(ctx, order.brand, order.session_id, order.product_id)
    return order


async def _restock(db: AsyncSession, order: OrderRow, now: int) -> bool:
    """Mark the refunded order restocked and give its units back in the record, once."""
    changed = await db.execute(
        update(OrderRow)
        .where(
            OrderRow.id == order.id,
            OrderRow.status == order_records.REFUNDED,
            OrderRow.restocked_ms.is_(None),
        )
        .values(restocked_ms=now)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
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
    await db.refresh(order)
    return True


async def _give_back(
    ctx: Context,
    session_id: str,
    product_id: str,
    units: int,
    *,
    counter: str = "",
    sale_id: str | None = None,
) -> Released | None:
    """Redis follows the record; when it cannot, the session is paused so that a rebuild
    makes it follow."""
    try:
        return await ctx.stock.give_back(
            session_id, product_id, units, counter=counter, sale_id=sale_id
        )
    except InventoryUnavailable as exc:
        log.warning(
            "stock of %s changed in the record only, pausing its sales: %s", product_id, exc
        )
        try:
            await recovery.pause(ctx.redis, session_id)
        except InventoryUnavailable:
            raise ClientError(
                Code.UNAVAILABLE, "recorded; sales resume with it once Redis is back"
            ) from exc
        return None


async def _announce(ctx: Context, session: SessionRow, released: Released | None) -> None:
    if released is None or session.status != session_records.LIVE:
        return
    ts = now_ms()
    try:
        await ctx.bus.publish(
            session.id,
            "stock",
            {
                "levels": {released.product_id: released.stock_left},
                "version": released.version,
                "ts": ts,
                "t_ms": session_records.t_ms(session, ts),
            },
        )
    except BusUnavailable as exc:
        log.warning("stock of %s not announced: %s", session.id, exc)
