"""Payment notifications: signed by the provider, amount-checked, deduplicated.

Contract: the body is verified with HMAC-SHA256 under ``LIVE_PAYMENT_SECRET`` before anything
is read from it; the order moves reserved -> paid in one conditional update; a notification
repeated (same ``provider_txn_id``) answers as the first did and changes nothing. A payment for
an order whose hold already lapsed (expired or cancelled) is recorded and the order marked
``refund_required``: its units went back to stock, and taking them again could oversell.
"""

import hashlib
import hmac
import logging
from typing import Any

from sqlalchemy import select, update

from common.errors import ClientError, Code
from inventory.errors import InventoryUnavailable
from live.commerce.order_records import CANCELLED, EXPIRED, PAID, REFUND_REQUIRED, RESERVED
from live.context import Context
from live.db.models import OrderRow, PaymentRow
from live.db.unit import transaction
from live.guides import commission, workspace_feed
from live.platform import ids
from live.platform.clock import now_ms
from live.webhooks import events, outbox

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 3


def signature(secret: str, body: bytes) -> str:
    """The ``X-Signature`` a notification with ``body`` must carry."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(secret: str, body: bytes, given: str | None) -> None:
    """Refuse a body whose signature is missing or wrong."""
    if not given or not hmac.compare_digest(signature(secret, body), given.strip().lower()):
        raise ClientError(Code.BAD_SIGNATURE, "the X-Signature header does not match the body")


async def notify(
    ctx: Context,
    *,
    order_id: str,
    paid_amount_cents: int,
    provider_txn_id: str,
    provider: str = "notify",
) -> dict[str, Any]:
    """Mark an order paid and commit its hold; returns ``{order_id, status, duplicate}``.

    ``provider`` names who took the money (``notify``: the brand's backend), for refunds."""
    async with transaction(ctx.db) as db:
        seen = await db.scalar(
            select(PaymentRow).where(PaymentRow.provider_txn_id == provider_txn_id)
        )
        order = await db.get(OrderRow, order_id)
        if order is None:
            raise ClientError(Code.NOT_FOUND, f"no order {order_id}")
        if seen is not None:
            if seen.order_id != order_id:
                raise ClientError(Code.CONFLICT, "this provider_txn_id paid another order")
            return {"order_id": order_id, "status": order.status, "duplicate": True}
        if paid_amount_cents != order.amount_cents:
            raise ClientError(
                Code.AMOUNT_MISMATCH,
                f"paid {paid_amount_cents} cents for an order of {order.amount_cents}",
            )
        if order.status in (PAID, REFUND_REQUIRED):
            return {"order_id": order_id, "status": order.status, "duplicate": True}
        paid_ms = now_ms()
        changed = await db.execute(
            update(OrderRow)
            .where(OrderRow.id == order_id, OrderRow.status == RESERVED)
            .values(status=PAID, paid_ms=paid_ms)
        )
        status = PAID
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            await commission.earn(db, order)
        else:
            # The hold lapsed (now or earlier): keep the money on record, never the stock.
            # Such an order earns no commission.
            lapsed = await db.execute(
                update(OrderRow)
                .where(OrderRow.id == order_id, OrderRow.status.in_((EXPIRED, CANCELLED)))
                .values(status=REFUND_REQUIRED, paid_ms=paid_ms)
            )
            if lapsed.rowcount != 1:  # type: ignore[attr-defined]
                raise ClientError(Code.CONFLICT, "the order changed meanwhile; retry")
            status = REFUND_REQUIRED
        # A payment for a lapsed hold is reported too (status refund_required): the brand
        # holds money it must give back.
        data = events.order_data(order, status=status, paid_ms=paid_ms)
        await outbox.add(db, order.brand, events.ORDER_PAID, data, now_ms=paid_ms)
        db.add(
            PaymentRow(
                id=ids.new_id("pay"),
                order_id=order_id,
                brand=order.brand,
                provider_txn_id=provider_txn_id,
                paid_amount_cents=paid_amount_cents,
                received_ms=now_ms(),
                provider=provider,
            )
        )
    # The guide's desk drops the hold: paid (or to refund), it is no longer waiting.
    workspace_feed.tell_soon(
        ctx.bus,
        order.session_id,
        order.guide_id,
        "hold",
        viewer_id=order.viewer_id,
        order_id=order_id,
        status=status,
    )
    if status == REFUND_REQUIRED:
        log.warning("order %s paid after its hold lapsed: refund required", order_id)
        return {"order_id": order_id, "status": REFUND_REQUIRED, "duplicate": False}
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            await ctx.stock.commit(order.session_id, order_id)
            break
        except InventoryUnavailable as exc:
            # A restarted Redis fails each stale pooled connection once: try a fresh one. If
            # Redis stays away, the record says paid and the reaper commits the hold later.
            if attempt == COMMIT_ATTEMPTS - 1:
                log.warning("order %s paid but hold not committed yet: %s", order_id, exc)
    return {"order_id": order_id, "status": PAID, "duplicate": False}
