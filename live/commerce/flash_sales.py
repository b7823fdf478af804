"""Flash sales: the host opens a sale on a product (price, window, cap, per-viewer limit) and
closes it; orders of that product during the window use the sale's terms.

Contract: opening writes the sale, loads its cap into Redis (`Stock.open_sale`) and publishes
``sale_open``; closing (by the host, by every node's `run` once ``ends_at`` has passed, or as
soon as the record says every unit of the cap is held or sold) marks it closed, drops the cap
and publishes ``sale_close`` with its ``reason`` (``host``, ``ended``, ``sold_out``), once
whoever races for it. A sold-out sale closes only once the record counts its whole cap
(``sold_qty``): every order that took a unit of it is written by then, so closing refuses none
of them, and the product goes back to its regular price for the units it has left. While
a sale of a product is open, orders of the product before ``starts_ms`` or from ``ends_ms`` on
are refused with ``sale_not_open``; within the window they pay ``sale_price_cents``, count
against ``per_viewer_limit`` (units bought in the sale) and take units from both the product's
stock and the sale's cap. The record judges the cap as it judges the stock: a conditional
update of ``sales.sold_qty``.
"""

import logging
from typing import Any

from sqlalchemy import or_, select, update

from common import loops
from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.commerce import order_records
from live.commerce.order_records import SALE_CLOSED, SALE_OPEN
from live.context import Context
from live.db.models import ProductRow, SaleRow, SessionRow
from live.db.unit import transaction
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records

log = logging.getLogger(__name__)

#: How often each node looks for sales past ``ends_at``: the close lags the end by at most this.
CLOSE_INTERVAL_S = 1.0
#: Why a sale closed (``sale_close.reason``).
HOST, ENDED, SOLD_OUT = "host", "ended", "sold_out"


async def open_sale(
    ctx: Context, principal: Principal, session_id: str, fields: dict[str, Any]
) -> SaleRow:
    """Create and open a sale; viewers get ``sale_open``."""
    ts = now_ms()
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
        if session.status != session_records.LIVE:
            raise ClientError(Code.SESSION_NOT_LIVE, "sales open in a live session")
        product = await db.get(ProductRow, fields["product_id"])
        if product is None or product.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no product {fields['product_id']} in this session")
        if await order_records.active_sale(db, product.id) is not None:
            raise ClientError(Code.CONFLICT, "a sale of this product is already open")
        row = SaleRow(
            id=ids.new_id("sal"),
            session_id=session_id,
            brand=principal.brand,
            sold_qty=0,
            status=SALE_OPEN,
            created_ms=ts,
            **fields,
        )
        db.add(row)
        await db.flush()
        await ctx.stock.open_sale(session_id, row.id, row.stock_cap)
    await ctx.stock.change_terms(session_id)
    clock = {"ts": ts, "t_ms": session_records.t_ms(session, ts)}
    await ctx.bus.publish(session_id, "sale_open", {**order_records.sale_view(row), **clock})
    return row


async def close_sale(ctx: Context, principal: Principal, session_id: str, sale_id: str) -> SaleRow:
    """Close a sale (once); viewers get ``sale_close``. Closing a closed sale changes nothing."""
    async with transaction(ctx.db) as db:
        await session_records.load(db, principal.brand, session_id)
        row = await db.get(SaleRow, sale_id)
        if row is None or row.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no sale {sale_id} in this session")
    await _close(ctx, row, now_ms(), reason=HOST)
    async with transaction(ctx.db) as db:
        closed = await db.get(SaleRow, sale_id)
    assert closed is not None  # sales are never deleted
    return closed


async def _close(ctx: Context, row: SaleRow, ts: int, *, reason: str) -> bool:
    """Close an open sale: record, Redis cap, terms version, ``sale_close``. True when this call
    closed it: the conditional update lets one caller win, whatever the number of nodes. A
    ``sold_out`` close happens only while the record counts the whole cap."""
    condition = [SaleRow.id == row.id, SaleRow.status == SALE_OPEN]
    if reason == SOLD_OUT:
        condition.append(SaleRow.sold_qty >= SaleRow.stock_cap)
    async with transaction(ctx.db) as db:
        changed = await db.execute(
            update(SaleRow).where(*condition).values(status=SALE_CLOSED, closed_ms=ts)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        session = await db.get(SessionRow, row.session_id)
    await ctx.stock.close_sale(row.session_id, row.id)
    await ctx.stock.change_terms(row.session_id)
    clock = {"ts": ts, "t_ms": session_records.t_ms(session, ts) if session else 0}
    await ctx.bus.publish(
        row.session_id,
        "sale_close",
        {"sale_id": row.id, "product_id": row.product_id, "reason": reason, **clock},
    )
    return True


async def close_if_sold_out(ctx: Context, sale_id: str) -> bool:
    """Close the sale if the record counts its whole cap (an order just took its last unit)."""
    async with transaction(ctx.db) as db:
        row = await db.get(SaleRow, sale_id)
    if row is None or row.status != SALE_OPEN or row.sold_qty < row.stock_cap:
        return False
    return await _close(ctx, row, now_ms(), reason=SOLD_OUT)


async def close_due(ctx: Context) -> int:
    """Close every open sale whose window has ended or whose cap is sold; returns how many this
    node closed."""
    now = now_ms()
    async with transaction(ctx.db) as db:
        due = list(
            await db.scalars(
                select(SaleRow).where(
                    SaleRow.status == SALE_OPEN,
                    or_(SaleRow.ends_ms <= now, SaleRow.sold_qty >= SaleRow.stock_cap),
                )
            )
        )
    closed = 0
    for row in due:
        reason = ENDED if row.ends_ms <= now else SOLD_OUT
        closed += await _close(ctx, row, now, reason=reason)
    return closed


async def run(ctx: Context) -> None:
    """Close sales at ``ends_at`` until the app stops; an engine outage only delays the next
    pass."""
    await loops.forever(
        lambda: close_due(ctx),
        every_s=CLOSE_INTERVAL_S,
        doing="closing ended sales",
        log=log,
        stopping=ctx.stopping,
    )
