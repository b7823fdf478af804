"""The ``snapshot`` a viewer gets on joining: session state from the record and live levels."""

from typing import Any

from live import coupons, sales, sessions
from live.context import Context
from live.db.unit import transaction
from realtime.connection import Viewer
from realtime.hub import SnapshotProvider


def provider(ctx: Context) -> SnapshotProvider:
    """The hub's snapshot source for this app."""

    async def snapshot(session_id: str, viewer: Viewer) -> dict[str, Any]:
        async with transaction(ctx.db) as db:
            row = await sessions.load(db, viewer.brand, session_id)
            products = await sessions.products_of(db, session_id)
            open_coupons = await coupons.open_coupons(ctx, db, session_id)
            held = await coupons.held_by(db, session_id, viewer.user_id)
            open_sales = await sales.open_sales(db, session_id)
        levels = await ctx.stock.levels(session_id)
        return {
            "session_id": row.id,
            "title": row.title,
            "status": row.status,
            "pinned_product_id": row.pinned_product_id,
            "products": [
                {
                    "product_id": p.id,
                    "title": p.title,
                    "price_cents": p.price_cents,
                    "stock": levels.get(p.id, 0),
                    "limit_per_viewer": p.limit_per_viewer,
                }
                for p in products
            ],
            "coupons": open_coupons,
            "my_coupons": held,
            "sales": open_sales,
            "started_at": row.started_ms,
        }

    return snapshot
