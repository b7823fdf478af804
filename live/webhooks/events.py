"""The events a brand's endpoints can receive, and the ``data`` each carries.

Every type here is written to the outbox (`live.webhooks.outbox`) in the transaction of the
change it reports. ``session.reminder`` is the reservations' notifier hook
(`live.reservations.reminders`): one per reservation at the brand's lead time before the
scheduled start and one when the session goes live, written with the durable claim that
makes it once over all nodes.
"""

from typing import Any, Final

from live.db.models import ClipRow, OrderRow, SessionRow

SESSION_SCHEDULED: Final = "session.scheduled"
SESSION_STARTED: Final = "session.started"
SESSION_ENDED: Final = "session.ended"
ORDER_RESERVED: Final = "order.reserved"
ORDER_PAID: Final = "order.paid"
ORDER_CANCELLED: Final = "order.cancelled"
ORDER_REFUNDED: Final = "order.refunded"
CLIP_READY: Final = "clip.ready"
SESSION_REMINDER: Final = "session.reminder"

#: Every event type an endpoint may subscribe to, in the order the docs list them.
EVENT_TYPES: Final = (
    SESSION_SCHEDULED,
    SESSION_STARTED,
    SESSION_ENDED,
    ORDER_RESERVED,
    ORDER_PAID,
    ORDER_CANCELLED,
    ORDER_REFUNDED,
    CLIP_READY,
    SESSION_REMINDER,
)


def session_data(row: SessionRow) -> dict[str, Any]:
    """A session as its events carry it."""
    return {
        "session_id": row.id,
        "title": row.title,
        "status": row.status,
        "host_id": row.host_id,
        "created_at": row.created_ms,
        "starts_at": row.starts_ms,
        "started_at": row.started_ms,
        "ended_at": row.ended_ms,
    }


def order_data(row: OrderRow, **changed: Any) -> dict[str, Any]:
    """An order as its events carry it: the buyer's view plus the buyer, the attributed guide
    (store, upstream guide, policy) and the commission; ``changed`` overrides columns that a
    Core update changed behind the ORM object (``status``, ``paid_ms``...)."""

    def value(name: str) -> Any:
        return changed[name] if name in changed else getattr(row, name)

    return {
        "order_id": row.id,
        "session_id": row.session_id,
        "product_id": row.product_id,
        "viewer_id": row.viewer_id,
        "qty": row.qty,
        "unit_price_cents": row.unit_price_cents,
        "discount_cents": row.discount_cents,
        "amount_cents": row.amount_cents,
        "coupon_id": row.coupon_id,
        "sale_id": row.sale_id,
        "clip_id": row.clip_id,
        "status": value("status"),
        "guide_id": row.guide_id,
        "guide_store": row.guide_store,
        "upstream_guide_id": row.upstream_guide_id,
        "attribution_policy": row.attribution_policy,
        "commission_cents": value("commission_cents"),
        "upstream_commission_cents": value("upstream_commission_cents"),
        "created_at": row.created_ms,
        "expires_at": row.expires_ms,
        "paid_at": value("paid_ms"),
        "refunded_at": value("refunded_ms"),
    }


def clip_data(row: ClipRow) -> dict[str, Any]:
    """A clip as ``clip.ready`` carries it (times in session ``t_ms``)."""
    return {
        "clip_id": row.id,
        "session_id": row.session_id,
        "product_id": row.product_id,
        "title": row.title,
        "from_ms": row.from_ms,
        "to_ms": row.to_ms,
        "source": row.source,
    }
