"""The ``snapshot`` a viewer gets on joining: session state from the record and live levels.

A join storm costs the record nothing per join. The session-wide part (the session row, its
products with their stock levels and open sales, open coupons and draws) is read once per room
``seq`` and shared by the joins of the next second (`Context.session_states`); the hub encodes
it once per room state (`realtime.hub.Snapshot`). Any durable event moves ``seq`` and forces a
fresh read, and every stock change is announced by one, so a snapshot is never older than the
events that follow it; record changes that announce no event are at most that second late, as
they would be for a viewer who joined that much earlier.

The viewer's own coupons are the only per-viewer part: ``my_claims`` (claims per coupon, used
or not, so a coupon claimed up to its limit is not offered again) comes from Redis's claim
counters in one auto-pipelined HMGET per join, and only viewers who did claim ask the record
for their unused claims (``my_coupons``), in batches (`Context.held_coupons`) so that even a
reconnect storm of claim holders costs a few queries, not one per viewer.
"""

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from common.errors import ClientError, Code
from live.commerce import coupons, order_records
from live.context import Context
from live.db.models import CouponRow, SessionRow
from live.db.unit import transaction
from live.sessions import draws, session_records
from realtime.connection import Viewer
from realtime.hub import Snapshot, SnapshotProvider

#: Numbers the reads of session state, so the hub knows when its encoded snapshot is stale.
_READS = itertools.count()


@dataclass(frozen=True, slots=True)
class SessionState:
    """What every viewer of a session sees the same, as of one read of the record and Redis."""

    brand: str
    #: The snapshot's shared fields, ``my_coupons`` and ``my_claims`` empty.
    view: dict[str, Any]
    #: Every coupon of the session, open or not: a claim of any may still be unused.
    coupon_ids: list[str]
    read: int


async def _read(ctx: Context, session_id: str) -> SessionState:
    async with transaction(ctx.db) as db:
        row = await db.get(SessionRow, session_id)
        if row is None:
            raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
        products = await session_records.products_of(db, session_id)
        offered = await coupons.open_coupons(ctx, db, session_id)
        open_sales = await order_records.open_sales(db, session_id)
        coupon_ids = list(
            await db.scalars(select(CouponRow.id).where(CouponRow.session_id == session_id))
        )
    open_draws = await draws.open_draws(ctx, session_id)
    levels = await ctx.stock.levels(session_id)
    sales = session_records.with_left(open_sales, levels)
    # Products Redis has no level of show 0 here (the HTTP view shows the allocation).
    shown = {p.id: levels.get(p.id, 0) for p in products}
    view: dict[str, Any] = {
        "session_id": row.id,
        "title": row.title,
        "status": row.status,
        "pinned_product_id": row.pinned_product_id,
        "products": session_records.catalog(products, shown, sales),
        "coupons": offered,
        "my_coupons": [],
        "my_claims": {},
        "sales": sales,
        "started_at": row.started_ms,
        "cover_url": row.cover_url,
        "video_url": row.video_url,
        "draws": open_draws,
    }
    return SessionState(row.brand, view, coupon_ids, next(_READS))


def provider(ctx: Context) -> SnapshotProvider:
    """The hub's snapshot source for this app."""

    async def snapshot(session_id: str, viewer: Viewer, seq: int) -> Snapshot:
        state: SessionState = await ctx.session_states.get(
            session_id, lambda: _read(ctx, session_id), version=seq
        )
        if state.brand != viewer.brand:
            # Shared across brands by id only: another brand's session does not exist.
            raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
        own: dict[str, Any] = {}
        claims = await ctx.coupons.claims_of(session_id, viewer.user_id, state.coupon_ids)
        if claims:
            own["my_claims"] = claims
            held = await ctx.held_coupons.get((session_id, viewer.user_id))
            if held:
                own["my_coupons"] = held
        return Snapshot(shared=state.view, version=state.read, own=own)

    return snapshot
