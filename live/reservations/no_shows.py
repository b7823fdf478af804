"""After the live, per guide: who reserved and never came, who came and did not buy.

Contract: the report of an ended session for one guide lists

- ``no_shows``: the guide's active reservations whose viewer was never seen in the room while
  the session was live;
- ``no_buys``: the guide's viewers who were seen in the room while it was live (those who
  reserved through the guide, and those bound to the guide by a share code of this session)
  and have no paid order of the session;

each with a link carrying a fresh share code of the guide (so a purchase from it is the
guide's, `live.clips.purchases` binds it as a join does): a no-show gets the session's
replay; a viewer who came gets the clip of the product on screen when they were last seen (the
latest clip started by then), or the replay when the session has no clip.

"Seen" is the room's presence record (``live:{session}:seen``, each viewer's last time,
written about once a second by every node, `realtime.presence`): a viewer who stayed less than
a second may be missed, and the record lives in Redis, so a Redis lost without persistence
loses who came (the report then lists every reservation as a no-show).
"""

import time
from dataclasses import dataclass
from typing import Any, cast

from redis.exceptions import RedisError
from sqlalchemy import select

from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.clips import library
from live.commerce.order_records import PAID
from live.context import Context
from live.db.models import ClipRow, GuideBindingRow, OrderRow, ReservationRow, SessionRow
from live.db.unit import transaction
from live.guides import share_codes
from live.reservations.records import ACTIVE
from live.sessions import session_records
from realtime import keys as realtime_keys

NO_SHOW, NO_BUY = "no_show", "no_buy"
#: The CSV export's columns (the JSON items have the same fields).
CSV_FIELDS = [
    "kind",
    "session_id",
    "viewer_id",
    "viewer_name",
    "reserved_at",
    "last_seen_at",
    "clip_id",
    "link",
]


@dataclass(frozen=True, slots=True)
class Attendance:
    """Who of the guide's viewers reserved, who was bound, and who was seen when."""

    reservations: list[ReservationRow]
    bound: set[str]
    seen_ms: dict[str, int]
    buyers: set[str]


async def report(ctx: Context, caller: Principal, session_id: str) -> dict[str, Any]:
    """The guide's no-show and no-buy lists of the ended session ``session_id``."""
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, caller.brand, session_id)
    if session.status != session_records.ENDED:
        raise ClientError(Code.SESSION_NOT_LIVE, "the list is made once the session ended")
    attendance = await _attendance(ctx, caller, session)
    clips = await _clips(ctx, session)
    code = _share_code(ctx, caller, session_id)
    items = [
        _no_show(r, session_id, code)
        for r in attendance.reservations
        if r.viewer_id not in attendance.seen_ms
    ]
    names = {r.viewer_id: r.viewer_name for r in attendance.reservations}
    guides_viewers = {r.viewer_id for r in attendance.reservations} | attendance.bound
    came = sorted((guides_viewers & attendance.seen_ms.keys()) - attendance.buyers)
    items += [
        _no_buy(viewer, names.get(viewer), attendance.seen_ms[viewer], session, clips, code)
        for viewer in came
    ]
    return {"session_id": session_id, "guide_id": caller.sub, "items": items}


async def _attendance(ctx: Context, caller: Principal, session: SessionRow) -> Attendance:
    async with transaction(ctx.db) as db:
        reservations = list(
            await db.scalars(
                select(ReservationRow)
                .where(
                    ReservationRow.session_id == session.id,
                    ReservationRow.guide_id == caller.sub,
                    ReservationRow.status == ACTIVE,
                )
                .order_by(ReservationRow.created_ms, ReservationRow.id)
            )
        )
        bound = set(
            await db.scalars(
                select(GuideBindingRow.viewer_id).where(
                    GuideBindingRow.brand == caller.brand,
                    GuideBindingRow.guide_id == caller.sub,
                    GuideBindingRow.session_id == session.id,
                )
            )
        )
        buyers = set(
            await db.scalars(
                select(OrderRow.viewer_id).where(
                    OrderRow.session_id == session.id, OrderRow.status == PAID
                )
            )
        )
    try:
        seen = await ctx.redis.zrangebyscore(
            realtime_keys.seen(session.id), session.started_ms or 0, "+inf", withscores=True
        )
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "who came is unavailable") from exc
    # withscores=True answers (member, score) pairs; redis-py's stubs do not narrow on it.
    pairs = cast(list[tuple[bytes, float]], seen)
    seen_ms = {viewer.decode(): int(score) for viewer, score in pairs}
    return Attendance(reservations, bound, seen_ms, buyers)


async def _clips(ctx: Context, session: SessionRow) -> list[ClipRow]:
    """The session's clips; none while its archive is being written (links go to the replay)."""
    try:
        return await library.of_session(ctx, session)
    except ClientError as exc:
        if exc.code in (Code.ARCHIVE_PENDING, Code.ARCHIVE_DELETED, Code.UNAVAILABLE):
            return []
        raise


def _share_code(ctx: Context, caller: Principal, session_id: str) -> str:
    """A fresh share code of the guide for the session: good for its replay and its clips."""
    return share_codes.issue(
        ctx.settings.secret,
        share_codes.ShareCode(
            guide_id=caller.sub,
            brand=caller.brand,
            session_id=session_id,
            store=caller.store,
            expires_s=int(time.time()) + ctx.settings.share_code_ttl_s,
        ),
    )


def _no_show(row: ReservationRow, session_id: str, code: str) -> dict[str, Any]:
    return {
        "kind": NO_SHOW,
        "session_id": session_id,
        "viewer_id": row.viewer_id,
        "viewer_name": row.viewer_name,
        "reserved_at": row.created_ms,
        "last_seen_at": None,
        "clip_id": None,
        "link": f"/replay/{session_id}?share={code}",
    }


def _no_buy(
    viewer_id: str,
    name: str | None,
    seen_ms: int,
    session: SessionRow,
    clips: list[ClipRow],
    code: str,
) -> dict[str, Any]:
    clip = _clip_at(clips, session_records.t_ms(session, seen_ms))
    link = (
        f"/clips/{clip.id}?share={code}"
        if clip is not None
        else f"/replay/{session.id}?share={code}"
    )
    return {
        "kind": NO_BUY,
        "session_id": session.id,
        "viewer_id": viewer_id,
        "viewer_name": name,
        "reserved_at": None,
        "last_seen_at": seen_ms,
        "clip_id": clip.id if clip is not None else None,
        "link": link,
    }


def _clip_at(clips: list[ClipRow], t_ms: int) -> ClipRow | None:
    """The latest clip started by ``t_ms`` (the product on screen then), else the first."""
    started = [clip for clip in clips if clip.from_ms <= t_ms]
    if started:
        return max(started, key=lambda clip: (clip.from_ms, clip.id))
    return clips[0] if clips else None
