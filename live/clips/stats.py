"""Per-clip views, purchases and GMV.

Contract: a view is counted once per clip and viewer (a viewer token opening the clip over HTTP
or playing it on the replay socket).
Purchases and GMV count the orders bought from the clip (``orders.clip_id``): ``purchases`` the
paid ones and ``gmv_cents`` their amounts, as the guide summaries count GMV; ``orders`` every
order placed from the clip, paid or not.
"""

from typing import Any

from sqlalchemy import case, func, select

from common.errors import ClientError, Code
from live.commerce.order_records import PAID
from live.context import Context
from live.db.models import ClipRow, ClipViewRow, OrderRow
from live.db.unit import transaction
from live.platform.clock import now_ms


async def count_view(ctx: Context, clip: ClipRow, viewer_id: str) -> bool:
    """Count the viewer's view of ``clip``; False when the viewer was counted before."""
    async with transaction(ctx.db) as db:
        if await db.get(ClipViewRow, (clip.id, viewer_id)) is not None:
            return False
    try:
        async with transaction(ctx.db) as db:
            db.add(
                ClipViewRow(
                    clip_id=clip.id,
                    viewer_id=viewer_id,
                    brand=clip.brand,
                    session_id=clip.session_id,
                    first_ms=now_ms(),
                )
            )
    except ClientError as exc:
        if exc.code != Code.CONFLICT:
            raise
        return False  # the same viewer's other socket or request counted it meanwhile
    return True


async def of_clips(ctx: Context, clip_ids: list[str]) -> dict[str, dict[str, int]]:
    """``{clip_id: {views, orders, purchases, units, gmv_cents}}`` for each of ``clip_ids``."""
    stats = {clip_id: _empty() for clip_id in clip_ids}
    if not clip_ids:
        return stats
    paid = OrderRow.status == PAID
    async with transaction(ctx.db) as db:
        views = await db.execute(
            select(ClipViewRow.clip_id, func.count())
            .where(ClipViewRow.clip_id.in_(clip_ids))
            .group_by(ClipViewRow.clip_id)
        )
        sold = await db.execute(
            select(
                OrderRow.clip_id,
                func.count(),
                func.sum(case((paid, 1), else_=0)),
                func.sum(case((paid, OrderRow.qty), else_=0)),
                func.sum(case((paid, OrderRow.amount_cents), else_=0)),
            )
            .where(OrderRow.clip_id.in_(clip_ids))
            .group_by(OrderRow.clip_id)
        )
        for clip_id, count in views:
            stats[clip_id]["views"] = int(count)
        for clip_id, orders, purchases, units, gmv in sold:
            stats[clip_id].update(
                orders=int(orders),
                purchases=int(purchases or 0),
                units=int(units or 0),
                gmv_cents=int(gmv or 0),
            )
    return stats


def view(clip: ClipRow, stats: dict[str, int]) -> dict[str, Any]:
    """The stats answer of one clip."""
    return {
        "clip_id": clip.id,
        "session_id": clip.session_id,
        "product_id": clip.product_id,
        **stats,
    }


def _empty() -> dict[str, int]:
    return {"views": 0, "orders": 0, "purchases": 0, "units": 0, "gmv_cents": 0}
