"""Coupons: drops by the host, claims by viewers over the room socket, discounts at checkout."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import ClientError, Code
from inventory.coupons import Claimed
from inventory.errors import InventoryUnavailable
from live.auth.tokens import Principal
from live.commerce import order_records
from live.context import Context
from live.db.models import CouponClaimRow, CouponRow, SessionRow
from live.db.unit import transaction
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records
from realtime.connection import Viewer
from realtime.protocol import Claim

AMOUNT_OFF, PERCENT_OFF = "amount_off", "percent_off"


async def drop(
    ctx: Context, principal: Principal, session_id: str, fields: dict[str, Any]
) -> CouponRow:
    """Create a coupon, open its claims in Redis and announce it to the room."""
    ts = now_ms()
    expires_in_s = fields.pop("expires_in_s", None)
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
        if session.status != session_records.LIVE:
            raise ClientError(Code.SESSION_NOT_LIVE, "coupons drop in a live session")
        row = CouponRow(
            id=ids.new_id("cpn"),
            session_id=session_id,
            brand=principal.brand,
            expires_ms=ts + expires_in_s * 1000 if expires_in_s else None,
            created_ms=ts,
            **fields,
        )
        db.add(row)
        await db.flush()
        await ctx.coupons.open(session_id, row.id, quantity=row.quantity, expires_ms=row.expires_ms)
    event = order_records.coupon_view(row)
    await ctx.bus.publish(
        session_id, "coupon", {**event, "ts": ts, "t_ms": session_records.t_ms(session, ts)}
    )
    return row


async def open_coupons(ctx: Context, db: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """Coupons of a session that can still be claimed, with claims left."""
    now = now_ms()
    # A guide's nudge coupons (``viewer_id`` set) are for one viewer: never in the room's list.
    rows = await db.scalars(
        select(CouponRow)
        .where(CouponRow.session_id == session_id, CouponRow.viewer_id.is_(None))
        .order_by(CouponRow.created_ms)
    )
    left = await ctx.coupons.left(session_id)
    return [
        order_records.coupon_view(row, left=left.get(row.id, 0))
        for row in rows
        if (row.expires_ms is None or row.expires_ms > now) and left.get(row.id, 0) > 0
    ]


def claim_handler(ctx: Context) -> Any:
    """The hub's handler for a viewer's ``claim`` message."""

    async def handle(session_id: str, viewer: Viewer, command: Claim) -> dict[str, Any]:
        if viewer.role != "viewer":
            raise ClientError(Code.FORBIDDEN, "only viewers claim coupons")
        async with transaction(ctx.db) as db:
            coupon = await db.get(CouponRow, command.coupon_id)
            session = await session_records.load(db, viewer.brand, session_id)
        if coupon is None or coupon.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no coupon {command.coupon_id}")
        if coupon.viewer_id is not None and coupon.viewer_id != viewer.user_id:
            raise ClientError(Code.FORBIDDEN, "this coupon was sent to another viewer")
        try:
            outcome = await ctx.coupons.claim(
                session_id,
                coupon.id,
                viewer_id=viewer.user_id,
                per_viewer_limit=coupon.per_viewer_limit,
                now_ms=now_ms(),
            )
        except InventoryUnavailable as exc:
            raise ClientError(Code.UNAVAILABLE, "claims are unavailable; retry") from exc
        if not isinstance(outcome, Claimed):
            code = Code.NOT_FOUND if outcome.code == "not_found" else Code(outcome.code)
            raise ClientError(code, f"coupon not claimed: {outcome.code}")
        claim = CouponClaimRow(
            id=ids.new_id("clm"),
            coupon_id=coupon.id,
            session_id=session_id,
            brand=coupon.brand,
            viewer_id=viewer.user_id,
            claimed_ms=now_ms(),
        )
        try:
            async with transaction(ctx.db) as db:
                db.add(claim)
        except ClientError:
            # The record is the judge: a claim that could not be written is given back.
            given_back = await ctx.coupons.unclaim(session_id, coupon.id, viewer_id=viewer.user_id)
            await _announce_left(ctx, session, coupon.id, given_back.left, given_back.version)
            raise
        await _announce_left(ctx, session, coupon.id, outcome.left, outcome.version)
        return {"coupon_id": coupon.id, "claim_id": claim.id, "left": outcome.left}

    return handle


async def _announce_left(
    ctx: Context, session: SessionRow, coupon_id: str, left: int, version: int
) -> None:
    # Claims finish in any order; ``version`` lets rooms keep the latest count, not the last
    # to arrive.
    ts = now_ms()
    await ctx.bus.publish(
        session.id,
        "coupon_left",
        {
            "coupon_id": coupon_id,
            "left": left,
            "version": version,
            "ts": ts,
            "t_ms": session_records.t_ms(session, ts),
        },
    )


async def held_by(db: AsyncSession, session_id: str, viewer_id: str) -> list[dict[str, Any]]:
    """The viewer's unused claims in a session, oldest first: what it can still pay with."""
    held = await held_by_many(db, [(session_id, viewer_id)])
    return held.get((session_id, viewer_id), [])


async def held_by_many(
    db: AsyncSession, viewers: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """`held_by` of many ``(session_id, viewer_id)`` at once, in one query per session."""
    by_session: dict[str, list[str]] = {}
    for session_id, viewer_id in viewers:
        by_session.setdefault(session_id, []).append(viewer_id)
    held: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for session_id, viewer_ids in by_session.items():
        rows = await db.execute(
            select(CouponClaimRow, CouponRow)
            .join(CouponRow, CouponRow.id == CouponClaimRow.coupon_id)
            .where(
                CouponClaimRow.session_id == session_id,
                CouponClaimRow.viewer_id.in_(viewer_ids),
                CouponClaimRow.order_id.is_(None),
            )
            .order_by(CouponClaimRow.claimed_ms, CouponClaimRow.id)
        )
        for claim, coupon in rows:
            held.setdefault((session_id, claim.viewer_id), []).append(
                {"claim_id": claim.id, **order_records.coupon_view(coupon)}
            )
    return held


async def claims_by(db: AsyncSession, session_id: str, viewer_id: str) -> dict[str, int]:
    """How many times the viewer claimed each coupon of the session, used or not: a coupon
    claimed up to its ``per_viewer_limit`` is not offered again."""
    rows = await db.execute(
        select(CouponClaimRow.coupon_id, func.count())
        .where(CouponClaimRow.session_id == session_id, CouponClaimRow.viewer_id == viewer_id)
        .group_by(CouponClaimRow.coupon_id)
    )
    return {coupon_id: int(count) for coupon_id, count in rows}


async def discount_for(
    db: AsyncSession, *, coupon_id: str, session_id: str, viewer_id: str, subtotal_cents: int
) -> tuple[CouponClaimRow, int]:
    """An unused claim of ``coupon_id`` held by the viewer and the discount it gives."""
    coupon = await db.get(CouponRow, coupon_id)
    if coupon is None or coupon.session_id != session_id:
        raise ClientError(Code.NOT_FOUND, f"no coupon {coupon_id}")
    if coupon.expires_ms is not None and coupon.expires_ms <= now_ms():
        raise ClientError(Code.COUPON_EXPIRED, "the coupon has expired")
    claim = await db.scalar(
        select(CouponClaimRow)
        .where(
            CouponClaimRow.coupon_id == coupon_id,
            CouponClaimRow.viewer_id == viewer_id,
            CouponClaimRow.order_id.is_(None),
        )
        .limit(1)
    )
    if claim is None:
        raise ClientError(Code.COUPON_NOT_CLAIMED, "claim the coupon before using it")
    if subtotal_cents < coupon.min_spend_cents:
        raise ClientError(
            Code.COUPON_MIN_SPEND, f"the coupon needs a spend of {coupon.min_spend_cents} cents"
        )
    discount = coupon.value if coupon.kind == AMOUNT_OFF else subtotal_cents * coupon.value // 100
    return claim, min(discount, subtotal_cents)
