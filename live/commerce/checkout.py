"""Checkout after the reserve: a viewer's own orders, paying one through the node's payment
provider, the provider's callback, and refunds given back through the provider.

Contract: a viewer sees and pays only their own orders; only a ``reserved`` order can be paid
(``conflict`` otherwise) and only while a provider is configured (``payment_unavailable``). A
provider's callback records the payment through `live.commerce.payments.notify`, so a paid
order is paid once however often the provider repeats itself. A refund asks the provider first
(named after the order, so a retry refunds once), then marks the order refunded.
"""

import base64
from typing import Any

from sqlalchemy import and_, or_, select

from common.errors import ClientError, Code
from live.auth.tokens import Principal, Role
from live.commerce import dev_pay, order_records, payments, restocks
from live.commerce.order_records import PAID, REFUND_REQUIRED, RESERVED
from live.commerce.payment_providers import Payer, PaymentProvider
from live.commerce.wechat_pay import WeChatPayProvider
from live.context import Context
from live.db.models import OrderRow, PaymentRow, ProductRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from live.sessions import session_records

DEFAULT_PAGE = 20
MAX_PAGE = 100


def _cursor(row: OrderRow) -> str:
    return base64.urlsafe_b64encode(f"{row.created_ms}:{row.id}".encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, order_id = raw.split(":", 1)
        return int(created), order_id
    except ValueError:
        raise ClientError(Code.INVALID_REQUEST, "cursor is not valid") from None


def bought_view(order: OrderRow, product: ProductRow | None) -> dict[str, Any]:
    """An order with what it bought: the product's title, image and options."""
    return {
        **order_records.order_view(order),
        "title": product.title if product else None,
        "image_url": product.image_url if product else None,
        "options": session_records.options_of(product) if product else {},
    }


async def mine(
    ctx: Context,
    principal: Principal,
    *,
    session_id: str | None,
    status: str | None,
    limit: int | None,
    cursor: str | None,
) -> dict[str, Any]:
    """The viewer's own orders, newest first: ``{items, next_cursor}``."""
    if status is not None and status not in order_records.ORDER_STATUSES:
        raise ClientError(Code.INVALID_REQUEST, f"no order status {status}")
    size = limit or DEFAULT_PAGE
    query = (
        select(OrderRow, ProductRow)
        .join(ProductRow, ProductRow.id == OrderRow.product_id)
        .where(OrderRow.brand == principal.brand, OrderRow.viewer_id == principal.sub)
        .order_by(OrderRow.created_ms.desc(), OrderRow.id.desc())
        .limit(size + 1)
    )
    if session_id:
        query = query.where(OrderRow.session_id == session_id)
    if status:
        query = query.where(OrderRow.status == status)
    if cursor:
        created, order_id = _after(cursor)
        query = query.where(
            or_(
                OrderRow.created_ms < created,
                and_(OrderRow.created_ms == created, OrderRow.id < order_id),
            )
        )
    async with transaction(ctx.db) as db:
        rows = [(order, product) for order, product in await db.execute(query)]
    page = rows[:size]
    return {
        "items": [bought_view(order, product) for order, product in page],
        "next_cursor": _cursor(page[-1][0]) if len(rows) > size else None,
    }


async def _own(ctx: Context, principal: Principal, order_id: str) -> tuple[OrderRow, ProductRow]:
    async with transaction(ctx.db) as db:
        order = await db.get(OrderRow, order_id)
        product = await db.get(ProductRow, order.product_id) if order is not None else None
    if (
        order is None
        or product is None
        or order.brand != principal.brand
        or order.viewer_id != principal.sub
    ):
        raise ClientError(Code.NOT_FOUND, "no such order")
    return order, product


def _provider(ctx: Context) -> PaymentProvider:
    if ctx.payments is None:
        raise ClientError(
            Code.PAYMENT_UNAVAILABLE, "this server takes no payments: pay in the brand's app"
        )
    return ctx.payments


def _payable(order: OrderRow) -> None:
    if order.status != RESERVED:
        raise ClientError(Code.CONFLICT, f"the order is {order.status}; it cannot be paid")
    if order.expires_ms <= now_ms():
        raise ClientError(Code.CONFLICT, "the reservation has expired")


async def pay(ctx: Context, principal: Principal, order_id: str, payer: Payer) -> dict[str, Any]:
    """Start paying the viewer's reserved order: what the client needs, from the provider."""
    order, product = await _own(ctx, principal, order_id)
    provider = _provider(ctx)
    _payable(order)
    answer = await provider.prepay(order, title=product.title, payer=payer)
    return {
        "order_id": order.id,
        "provider": provider.name,
        "amount_cents": order.amount_cents,
        "expires_at": order.expires_ms,
        **answer,
    }


async def dev_notification(ctx: Context, principal: Principal, order_id: str) -> tuple[bytes, str]:
    """The signed notification the development provider sends for the viewer's order."""
    if ctx.settings.payment_provider != "dev":
        raise ClientError(Code.NOT_FOUND, "the development payment provider is off")
    order, _ = await _own(ctx, principal, order_id)
    _payable(order)
    return dev_pay.notification(ctx.settings.payment_secret, order)


async def wechat_callback(ctx: Context, headers: Any, body: bytes) -> dict[str, Any] | None:
    """Record the payment a WeChat Pay callback reports; None when it reports none."""
    if not isinstance(ctx.payments, WeChatPayProvider):
        raise ClientError(Code.NOT_FOUND, "WeChat Pay is not configured on this server")
    notice = await ctx.payments.verify(headers, body)
    if notice is None:
        return None
    return await payments.notify(
        ctx,
        order_id=notice.order_id,
        paid_amount_cents=notice.paid_amount_cents,
        provider_txn_id=notice.provider_txn_id,
        provider=ctx.payments.name,
    )


async def refund(
    ctx: Context, principal: Principal, order_id: str, *, restock: bool = False
) -> dict[str, Any]:
    """Refund a paid (or refund-required) order of the brand: the provider first, then the
    record (its commission reversed; with ``restock`` its units back in stock,
    `live.commerce.restocks`)."""
    if principal.role != Role.ADMIN:
        raise ClientError(Code.FORBIDDEN, "refunds are an admin's")
    async with transaction(ctx.db) as db:
        order = await db.get(OrderRow, order_id)
        payment = await db.scalar(select(PaymentRow).where(PaymentRow.order_id == order_id))
    if order is None or order.brand != principal.brand:
        raise ClientError(Code.NOT_FOUND, f"no order {order_id}")
    taken_by = ctx.payments
    # Money the brand's own backend took (``notify``) is given back by that backend.
    if (
        payment is not None
        and order.status in (PAID, REFUND_REQUIRED)
        and taken_by is not None
        and payment.provider == taken_by.name
    ):
        refund_id = await taken_by.refund(order, payment, reason="refund")
        async with transaction(ctx.db) as db:
            stored = await db.get(PaymentRow, payment.id)
            if stored is not None:
                stored.refund_id = refund_id
    row = await restocks.refund(ctx, principal, order_id, restock=restock)
    return order_records.order_view(row)
