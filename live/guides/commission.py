"""Guide commission: a brand's rates, a product's override, what a paid order earns.

Contract: commission is earned when an order is paid (`earn`, called in the payment's
transaction), at the rates of that moment, and written on the order: the attributed guide
earns ``amount * rate`` (the product's ``commission_bp`` if set, else the brand's
``rate_bp``), its upstream guide ``amount * upstream_rate_bp``; amounts round down to the cent.
A refund (`refund`) turns a paid order into ``refunded``: its commission stays written for the
audit but counts as reversed, never as earned. Orders never paid earn nothing.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import ClientError, Code
from live.db.models import CommissionPlanRow, OrderRow, ProductRow
from live.webhooks import events, outbox

BASIS_POINTS = 10_000
PAID, REFUNDED, REFUND_REQUIRED = "paid", "refunded", "refund_required"


@dataclass(frozen=True, slots=True)
class Plan:
    """A brand's rates in basis points (100 bp = 1 %)."""

    rate_bp: int = 0
    upstream_rate_bp: int = 0

    def to_json(self) -> dict[str, Any]:
        """The plan as the API shows it."""
        return {"rate_bp": self.rate_bp, "upstream_rate_bp": self.upstream_rate_bp}


async def plan_of(db: AsyncSession, brand: str) -> Plan:
    """The brand's plan (no commission until one is set)."""
    row = await db.get(CommissionPlanRow, brand)
    return Plan(row.rate_bp, row.upstream_rate_bp) if row else Plan()


async def set_plan(db: AsyncSession, brand: str, plan: Plan, *, now_ms: int) -> None:
    """Store the brand's plan; orders paid from now on earn at these rates."""
    row = await db.get(CommissionPlanRow, brand)
    if row is None:
        db.add(
            CommissionPlanRow(
                brand=brand,
                rate_bp=plan.rate_bp,
                upstream_rate_bp=plan.upstream_rate_bp,
                updated_ms=now_ms,
            )
        )
    else:
        row.rate_bp, row.upstream_rate_bp, row.updated_ms = (
            plan.rate_bp,
            plan.upstream_rate_bp,
            now_ms,
        )


def _share(amount_cents: int, rate_bp: int) -> int:
    return amount_cents * rate_bp // BASIS_POINTS


async def earn(db: AsyncSession, order: OrderRow) -> None:
    """Write what the order earns its guide and upstream guide (an order just paid)."""
    if order.guide_id is None:
        return
    plan = await plan_of(db, order.brand)
    product = await db.get(ProductRow, order.product_id)
    rate = product.commission_bp if product and product.commission_bp is not None else None
    order.commission_cents = _share(order.amount_cents, plan.rate_bp if rate is None else rate)
    if order.upstream_guide_id is not None:
        order.upstream_commission_cents = _share(order.amount_cents, plan.upstream_rate_bp)


async def refund(db: AsyncSession, brand: str, order_id: str, *, now_ms: int) -> OrderRow:
    """Mark a paid order refunded (its commission reversed), or a refund-required one (paid
    after its hold lapsed, it earned none); refunding twice changes nothing."""
    order = await db.get(OrderRow, order_id)
    if order is None or order.brand != brand:
        raise ClientError(Code.NOT_FOUND, f"no order {order_id}")
    if order.status == REFUNDED:
        return order
    changed = await db.execute(
        update(OrderRow)
        .where(OrderRow.id == order_id, OrderRow.status.in_((PAID, REFUND_REQUIRED)))
        .values(status=REFUNDED, refunded_ms=now_ms)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ClientError(Code.CONFLICT, f"only a paid order is refunded, not a {order.status} one")
    await db.refresh(order)
    await outbox.add(db, brand, events.ORDER_REFUNDED, events.order_data(order), now_ms=now_ms)
    return order
