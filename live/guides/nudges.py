"""Nudges: a guide sends one of their viewers a private coupon from their session budget.

Contract: hosts (and admins) set each guide's budget per session: a count of coupons and a
cap on their total value. A nudge names a viewer bound to the calling guide and an amount off;
it spends one coupon of that value from the budget atomically over all nodes
(`live.guides.budgets`), or is refused with ``budget_exhausted``; the coupon written has
``viewer_id`` (only that viewer may claim it, once) and ``guide_id`` (orders paid with it are
the guide's). The viewer gets it as a ``private`` frame of kind ``nudge``; the room never sees
it. A coupon that cannot be written gives its spend back.
"""

from typing import Any

from sqlalchemy import select

from common.errors import ClientError, Code
from live.auth.tokens import Principal, Role
from live.commerce import order_records
from live.commerce.coupons import AMOUNT_OFF
from live.context import Context
from live.db.models import CouponRow, GuideBudgetRow
from live.db.unit import transaction
from live.guides import attribution, budgets, workspace_feed
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records

MAX_COUNT = 10_000
MAX_VALUE_CENTS = 100_000_000


async def set_budget(
    ctx: Context,
    principal: Principal,
    session_id: str,
    guide_id: str,
    *,
    count: int,
    value_cap_cents: int,
) -> dict[str, Any]:
    """Set a guide's budget in a session (what was spent stays spent)."""
    ts = now_ms()
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
        if session.status == session_records.ENDED:
            raise ClientError(Code.SESSION_ENDED, "the session has ended")
        row = await db.get(GuideBudgetRow, (session_id, guide_id))
        if row is None:
            row = GuideBudgetRow(session_id=session_id, guide_id=guide_id, brand=principal.brand)
            db.add(row)
        row.count, row.value_cap_cents, row.updated_ms = count, value_cap_cents, ts
    left = await ctx.budgets.put(row)
    view = budgets.view(row, left.count_left, left.value_left_cents)
    await workspace_feed.tell(ctx.bus, session_id, guide_id, "budget", budget=view)
    return view


async def budgets_of(ctx: Context, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    """The session's budgets (a guide: their own)."""
    async with transaction(ctx.db) as db:
        await session_records.load(db, principal.brand, session_id)
        query = select(GuideBudgetRow).where(
            GuideBudgetRow.session_id == session_id, GuideBudgetRow.brand == principal.brand
        )
        if principal.role == Role.GUIDE:
            query = query.where(GuideBudgetRow.guide_id == principal.sub)
        rows = list(await db.scalars(query.order_by(GuideBudgetRow.guide_id)))
    views = []
    for row in rows:
        left = await ctx.budgets.left(row)
        views.append(budgets.view(row, left.count_left, left.value_left_cents))
    return views


async def nudge(
    ctx: Context,
    principal: Principal,
    session_id: str,
    viewer_id: str,
    *,
    value_cents: int,
    min_spend_cents: int,
) -> dict[str, Any]:
    """Send ``viewer_id`` a private coupon of ``value_cents`` off from the guide's budget."""
    guide_id = principal.sub
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
        if session.status != session_records.LIVE:
            raise ClientError(Code.SESSION_NOT_LIVE, "nudges are sent in a live session")
        budget = await db.get(GuideBudgetRow, (session_id, guide_id))
    if budget is None or budget.brand != principal.brand:
        raise ClientError(Code.BUDGET_EXHAUSTED, "no coupon budget for you in this session")
    binding = await attribution.lookup(ctx.redis, principal.brand, viewer_id)
    if binding is None or binding.guide_id != guide_id:
        raise ClientError(Code.FORBIDDEN, "this viewer is not one of yours")
    left = await ctx.budgets.spend(session_id, guide_id, value_cents)
    if not left.taken:
        raise ClientError(
            Code.BUDGET_EXHAUSTED,
            f"budget left: {left.count_left} coupons, {left.value_left_cents} cents",
        )
    ts = now_ms()
    row = CouponRow(
        id=ids.new_id("cpn"),
        session_id=session_id,
        brand=principal.brand,
        title=f"From {principal.name or guide_id}",
        kind=AMOUNT_OFF,
        value=value_cents,
        min_spend_cents=min_spend_cents,
        quantity=1,
        per_viewer_limit=1,
        expires_ms=None,
        created_ms=ts,
        viewer_id=viewer_id,
        guide_id=guide_id,
    )
    try:
        async with transaction(ctx.db) as db:
            db.add(row)
            await db.flush()
            await ctx.coupons.open(session_id, row.id, quantity=1, expires_ms=None)
    except Exception:
        await ctx.budgets.give_back(session_id, guide_id, value_cents)
        raise
    coupon = {**order_records.coupon_view(row), "guide_id": guide_id}
    frame = {
        "type": "private",
        "kind": "nudge",
        "from": principal.name or guide_id,
        "coupon": coupon,
        "ts": ts,
    }
    await ctx.hub.moderation.private(session_id, viewer_id, frame)
    view = budgets.view(budget, left.count_left, left.value_left_cents)
    await workspace_feed.tell(ctx.bus, session_id, guide_id, "budget", budget=view)
    return {"coupon": coupon, "viewer_id": viewer_id, "budget": view}
