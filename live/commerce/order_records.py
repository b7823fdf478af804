"""JSON shapes of records as the public contract shows them."""

from typing import Any

from live.db.models import CouponRow, OrderRow, ProductRow, SessionRow


def product(row: ProductRow, *, stock: int | None = None) -> dict[str, Any]:
    """A product; ``stock`` is the live level when known, the allocation otherwise."""
    return {
        "product_id": row.id,
        "sku": row.sku,
        "title": row.title,
        "price_cents": row.price_cents,
        "stock": row.stock if stock is None else stock,
        "limit_per_viewer": row.limit_per_viewer,
    }


def session(
    row: SessionRow, products: list[ProductRow], levels: dict[str, int], ws_url: str
) -> dict[str, Any]:
    """A session with its products and live stock levels."""
    return {
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "host_id": row.host_id,
        "ws_url": ws_url,
        "pinned_product_id": row.pinned_product_id,
        "products": [product(p, stock=levels.get(p.id)) for p in products],
        "created_at": row.created_ms,
        "started_at": row.started_ms,
        "ended_at": row.ended_ms,
    }


def coupon(row: CouponRow, *, left: int | None = None) -> dict[str, Any]:
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


def order(row: OrderRow) -> dict[str, Any]:
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
