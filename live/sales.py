"""Flash sales: the host opens a sale on a product (price, window, cap, per-viewer limit) and
closes it; orders of that product during the window use the sale's terms.

Contract: opening writes the sale, loads its cap into Redis (`Stock.open_sale`) and publishes
``sale_open``; closing marks it closed, drops the cap and publishes ``sale_close``, once. While
a sale of a product is open, orders of the product before ``starts_ms`` or from ``ends_ms`` on
are refused with ``sale_not_open``; within the window they pay ``sale_price_cents``, count
against ``per_viewer_limit`` (units bought in the sale) and take units from both the product's
stock and the sale's cap. The record judges the cap as it judges the stock: a conditional
update of ``sales.sold_qty``.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live import ids, sessions
from live.auth import Principal
from live.clock import now_ms
from live.context import Context
from live.db.models import ProductRow, SaleRow
from live.db.unit import transaction
from realtime.errors import ClientError, Code

OPEN, CLOSED = "open", "closed"


def view(row: SaleRow) -> dict[str, Any]:
    """A sale as clients see it; ``ends_at`` drives the countdown."""
    return {
        "sale_id": row.id,
        "product_id": row.product_id,
        "sale_price_cents": row.sale_price_cents,
        "starts_at": row.starts_ms,
        "ends_at": row.ends_ms,
        "stock_cap": row.stock_cap,
        "per_viewer_limit": row.per_viewer_limit,
        "status": row.status,
    }


async def open_sale(
    ctx: Context, principal: Principal, session_id: str, fields: dict[str, Any]
) -> SaleRow:
    """Create and open a sale; viewers get ``sale_open``."""
    ts = now_ms()
    async with transaction(ctx.db) as db:
        session = await sessions.load(db, principal.brand, session_id)
        if session.status != sessions.LIVE:
            raise ClientError(Code.SESSION_NOT_LIVE, "sales open in a live session")
        product = await db.get(ProductRow, fields["product_id"])
        if product is None or product.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no product {fields['product_id']} in this session")
        if await active_sale(db, product.id) is not None:
            raise ClientError(Code.CONFLICT, "a sale of this product is already open")
        row = SaleRow(
            id=ids.new_id("sal"),
            session_id=session_id,
            brand=principal.brand,
            sold_qty=0,
            status=OPEN,
            created_ms=ts,
            **fields,
        )
        db.add(row)
        await db.flush()
        await ctx.stock.open_sale(session_id, row.id, row.stock_cap)
    clock = {"ts": ts, "t_ms": sessions.t_ms(session, ts)}
    await ctx.bus.publish(session_id, "sale_open", {**view(row), **clock})
    return row


async def close_sale(ctx: Context, principal: Principal, session_id: str, sale_id: str) -> SaleRow:
    """Close a sale (once); viewers get ``sale_close``. Closing a closed sale changes nothing."""
    ts = now_ms()
    async with transaction(ctx.db) as db:
        session = await sessions.load(db, principal.brand, session_id)
        row = await db.get(SaleRow, sale_id)
        if row is None or row.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no sale {sale_id} in this session")
        if row.status == CLOSED:
            return row
        row.status, row.closed_ms = CLOSED, ts
    await ctx.stock.close_sale(session_id, sale_id)
    clock = {"ts": ts, "t_ms": sessions.t_ms(session, ts)}
    await ctx.bus.publish(
        session_id, "sale_close", {"sale_id": sale_id, "product_id": row.product_id, **clock}
    )
    return row


async def active_sale(db: AsyncSession, product_id: str) -> SaleRow | None:
    """The open sale of a product, if any."""
    row: SaleRow | None = await db.scalar(
        select(SaleRow).where(SaleRow.product_id == product_id, SaleRow.status == OPEN).limit(1)
    )
    return row


async def open_sales(db: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """The open sales of a session, for the snapshot."""
    rows = await db.scalars(
        select(SaleRow)
        .where(SaleRow.session_id == session_id, SaleRow.status == OPEN)
        .order_by(SaleRow.created_ms)
    )
    return [view(row) for row in rows]


def check_window(row: SaleRow, now: int) -> None:
    """Refuse an order of the sale's product outside its window."""
    if now < row.starts_ms:
        raise ClientError(Code.SALE_NOT_OPEN, "the flash sale of this product has not started")
    if now >= row.ends_ms:
        raise ClientError(Code.SALE_NOT_OPEN, "the flash sale of this product has ended")
