"""The ``snapshot`` a viewer gets on joining: session state from the record and live levels.

The session-wide part (the session row, its products, open coupons and sales) is read once per
room ``seq`` and shared by the joins of the next second (`Context.session_states`): any durable
event moves ``seq`` and forces a fresh read, so a snapshot is never older than the events that
follow it; record changes that announce no event are at most that second late, as they would be
for a viewer who joined that much earlier. Stock levels and the viewer's own coupons are read
for every join.
"""

from dataclasses import dataclass
from typing import Any

from common.errors import ClientError, Code
from live.commerce import coupons, order_records
from live.context import Context
from live.db.models import ProductRow, SessionRow
from live.db.unit import transaction
from live.sessions import draws, session_records
from realtime.connection import Viewer
from realtime.hub import SnapshotProvider


@dataclass(frozen=True, slots=True)
class SessionState:
    """What every viewer of a session sees the same, as of one read of the record."""

    row: SessionRow
    products: list[ProductRow]
    coupons: list[dict[str, Any]]
    sales: list[dict[str, Any]]
    draws: list[dict[str, Any]]


async def _read(ctx: Context, session_id: str) -> SessionState:
    async with transaction(ctx.db) as db:
        row = await db.get(SessionRow, session_id)
        if row is None:
            raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
        return SessionState(
            row=row,
            products=await session_records.products_of(db, session_id),
            coupons=await coupons.open_coupons(ctx, db, session_id),
            sales=await order_records.open_sales(db, session_id),
            draws=await draws.open_draws(ctx, session_id),
        )


def provider(ctx: Context) -> SnapshotProvider:
    """The hub's snapshot source for this app."""

    async def snapshot(session_id: str, viewer: Viewer, seq: int) -> dict[str, Any]:
        state: SessionState = await ctx.session_states.get(
            session_id, lambda: _read(ctx, session_id), version=seq
        )
        if state.row.brand != viewer.brand:
            # Shared across brands by id only: another brand's session does not exist.
            raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
        async with transaction(ctx.db) as db:
            held = await coupons.held_by(db, session_id, viewer.user_id)
            claims = await coupons.claims_by(db, session_id, viewer.user_id)
        levels = await ctx.stock.levels(session_id)
        row = state.row
        sales = session_records.with_left(state.sales, levels)
        # Products Redis has no level of show 0 here (the HTTP view shows the allocation).
        shown = {p.id: levels.get(p.id, 0) for p in state.products}
        return {
            "session_id": row.id,
            "title": row.title,
            "status": row.status,
            "pinned_product_id": row.pinned_product_id,
            "products": session_records.catalog(state.products, shown, sales),
            "coupons": state.coupons,
            "my_coupons": held,
            "my_claims": claims,
            "sales": sales,
            "started_at": row.started_ms,
            "cover_url": row.cover_url,
            "video_url": row.video_url,
            "draws": state.draws,
        }

    return snapshot
