"""A live session's figures for the host panel: orders, orders per minute, GMV, buyers,
conversion, viewers, likes and stock per product.

Orders and money come from the record (the database is the judge); viewers, likes and stock
levels from Redis, as the room shows them. ``viewers_seen`` counts the distinct viewers the
nodes recorded in the room (about once a second), so a viewer who stayed less than a second
may be missed (conversion errs high), and a buyer who ordered without opening the room counts
as a buyer, not as a viewer.
"""

from typing import Any

from redis.asyncio import Redis
from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from live.commerce.order_records import PAID, PLACED
from live.db.models import OrderRow, ProductRow
from realtime import keys as realtime_keys

#: The window of "orders per minute".
RATE_WINDOW_MS = 60_000


async def orders_of(db: AsyncSession, session_id: str, *, now_ms: int) -> dict[str, int]:
    """Counts and sums of the session's orders that hold or took stock (reserved or paid)."""
    live_orders = (OrderRow.session_id == session_id) & OrderRow.status.in_(PLACED)
    placed, recent = (
        await db.execute(
            select(
                func.count(),
                func.count().filter(OrderRow.created_ms >= now_ms - RATE_WINDOW_MS),
            ).where(live_orders)
        )
    ).one()
    paid, gmv, buyers = (
        await db.execute(
            select(
                func.count(),
                func.coalesce(func.sum(OrderRow.amount_cents), 0),
                func.count(distinct(OrderRow.viewer_id)),
            ).where((OrderRow.session_id == session_id) & (OrderRow.status == PAID))
        )
    ).one()
    return {
        "orders": int(placed),
        "orders_last_minute": int(recent),
        "paid_orders": int(paid),
        "gmv_cents": int(gmv),
        "buyers": int(buyers),
    }


async def room_of(redis: Redis, session_id: str) -> dict[str, int]:
    """Distinct viewers seen in the room and the session's likes, from Redis."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(realtime_keys.seen(session_id))
        pipe.get(realtime_keys.likes(session_id))
        seen, likes = await pipe.execute()
    return {"viewers_seen": int(seen), "likes": int(likes or 0)}


def stock_bars(products: list[ProductRow], levels: dict[str, int]) -> list[dict[str, Any]]:
    """Per product: the allocation and what is left for new orders."""
    return [
        {
            "product_id": p.id,
            "title": p.title,
            "allocated": p.stock,
            "left": levels.get(p.id, p.stock),
        }
        for p in products
    ]


def conversion(buyers: int, viewers_seen: int) -> float | None:
    """Paying buyers per distinct viewer (``None`` before any viewer was seen)."""
    if viewers_seen == 0:
        return None
    return round(buyers / viewers_seen, 4)
