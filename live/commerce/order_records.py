"""Orders, flash sales and coupons as records: the statuses of orders and sales (this module
owns both sets), giving an order's units back in the record, and the JSON shapes of orders and
coupons as the public contract shows them.

Nothing here takes the node's context: the use cases of `live.commerce` call these with their
own database session.
"""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.models import CouponClaimRow, CouponRow, OrderRow, ProductRow, SaleRow

#: An order is ``reserved`` (its units held) until it is ``paid``, ``expired`` (its hold ran
#: out) or ``cancelled``; a payment for an expired or cancelled order makes it
#: ``refund_required``; a paid order may be ``refunded``. A waitlist offer is an order of
#: status ``offered`` (a unit held for the waiting viewer) until the viewer takes it
#: (``reserved``) or lets it pass (``passed``: its unit goes to the next viewer).
RESERVED, PAID, EXPIRED = "reserved", "paid", "expired"
CANCELLED, REFUND_REQUIRED, REFUNDED = "cancelled", "refund_required", "refunded"
OFFERED, PASSED = "offered", "passed"
ORDER_STATUSES = frozenset(
    {RESERVED, PAID, EXPIRED, CANCELLED, REFUND_REQUIRED, REFUNDED, OFFERED, PASSED}
)
#: Statuses whose units count in ``products.committed_qty`` (held, offered or sold), and in
#: the buyer's per-viewer limit.
COMMITTED = (RESERVED, PAID, OFFERED)
#: Statuses whose units are held in Redis until ``expires_ms``.
HOLDING = (RESERVED, OFFERED)
#: Orders a buyer placed that hold or took stock (offers not taken are not orders yet).
PLACED = (RESERVED, PAID)

#: A flash sale is ``open`` from the host's open until its end, its close or its sell-out.
SALE_OPEN, SALE_CLOSED = "open", "closed"


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


def coupon_view(row: CouponRow, *, left: int | None = None) -> dict[str, Any]:
    """A coupon as dropped; ``left`` is how many claims remain when known."""
    return {
        "coupon_id": row.id,
        "title": row.title,
        "kind": row.kind,
        "value": row.value,
        "min_spend_cents": row.min_spend_cents,
        "quantity": row.quantity,
        "per_viewer_limit": row.per_viewer_limit,
        "expires_at": row.expires_ms,
        "left": row.quantity if left is None else left,
    }


def order_view(row: OrderRow) -> dict[str, Any]:
    """An order as its buyer sees it."""
    return {
        "order_id": row.id,
        "session_id": row.session_id,
        "product_id": row.product_id,
        "qty": row.qty,
        "unit_price_cents": row.unit_price_cents,
        "discount_cents": row.discount_cents,
        "amount_cents": row.amount_cents,
        "coupon_id": row.coupon_id,
        "status": row.status,
        "guide_id": row.guide_id,
        "clip_id": row.clip_id,
        "expires_at": row.expires_ms,
        "ts": row.created_ms,
    }


def sale_view(row: SaleRow) -> dict[str, Any]:
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


async def active_sale(db: AsyncSession, product_id: str) -> SaleRow | None:
    """The open sale of a product, if any."""
    row: SaleRow | None = await db.scalar(
        select(SaleRow)
        .where(SaleRow.product_id == product_id, SaleRow.status == SALE_OPEN)
        .limit(1)
    )
    return row


async def open_sales(db: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """The open sales of a session, for the snapshot."""
    rows = await db.scalars(
        select(SaleRow)
        .where(SaleRow.session_id == session_id, SaleRow.status == SALE_OPEN)
        .order_by(SaleRow.created_ms)
    )
    return [sale_view(row) for row in rows]
