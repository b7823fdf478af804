"""Reminders of reservations: the notifier hook.

Each active reservation gets at most two ``session.reminder`` webhook events (the notifier
interface: the brand's backend receives them through its endpoints, `live.webhooks`, and sends
the WeChat subscribe message or the SMS): ``kind: "lead"`` once the brand's lead time before
the scheduled start has come (never before), while the session is still scheduled, and
``kind: "start"`` once the session is live.

Contract: a reminder is written exactly once over all nodes. A node's pass takes a batch of
due reservations by one conditional update of their claim column (``lead_reminded_ms`` or
``start_reminded_ms``: NULL -> now, ``RETURNING`` the rows this node changed) and writes their
events to the outbox in the same transaction: two nodes racing get disjoint sets (PostgreSQL
re-checks the condition after the other's commit; SQLite has one writer), and a node dying in
between rolls both back, so the next pass of any node writes them. The claim is in the record,
not a timer in a process: a restart loses nothing and sends nothing twice. Delivery from the
outbox is at least once (a receiver deduplicates by ``webhook-id``).
"""

import logging
import time
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common import loops
from live.context import Context
from live.db.models import ReminderPolicyRow, ReservationRow, SessionRow, WebhookEventRow
from live.db.unit import transaction
from live.guides import share_codes
from live.platform.clock import now_ms
from live.reservations.records import ACTIVE
from live.sessions import session_records
from live.webhooks import events, outbox

log = logging.getLogger(__name__)

LEAD, START = "lead", "start"
#: Reservations reminded in one transaction at most.
BATCH = 500

_INSERT_EVENTS = insert(cast(Table, WebhookEventRow.__table__))
_R = ReservationRow


async def lead_of(db: AsyncSession, brand: str, *, default_s: int) -> int:
    """The brand's reminder lead time in seconds (``default_s`` until it sets one)."""
    row = await db.get(ReminderPolicyRow, brand)
    return default_s if row is None else row.lead_s


async def set_lead(db: AsyncSession, brand: str, lead_s: int, *, now: int) -> None:
    """Store the brand's reminder lead time; the next pass of every node applies it."""
    row = await db.get(ReminderPolicyRow, brand)
    if row is None:
        db.add(ReminderPolicyRow(brand=brand, lead_s=lead_s, updated_ms=now))
    else:
        row.lead_s, row.updated_ms = lead_s, now


async def run(ctx: Context) -> None:
    """Write due reminders every ``LIVE_REMINDER_POLL_MS`` until the node stops."""
    await loops.forever(
        lambda: one_pass(ctx),
        every_s=ctx.settings.reminder_poll_ms / 1000,
        doing="reservation reminders",
        log=log,
        stopping=ctx.stopping,
    )


async def one_pass(ctx: Context) -> object:
    """Claim and write the reminders due now; `loops.AGAIN` when a batch was full."""
    now = now_ms()
    async with transaction(ctx.db) as db:
        lead = await _claim(db, LEAD, _due_lead(now, ctx.settings.reminder_lead_s), ctx, now)
    async with transaction(ctx.db) as db:
        start = await _claim(db, START, _due_start(), ctx, now)
    return loops.AGAIN if max(lead, start) >= BATCH else None


def _due_lead(now: int, default_lead_s: int) -> list[Any]:
    """Scheduled sessions whose lead time has come (the brand's, else the node's default)."""
    lead_ms = func.coalesce(ReminderPolicyRow.lead_s, default_lead_s) * 1000
    return [
        SessionRow.status == session_records.SCHEDULED,
        SessionRow.starts_ms.is_not(None),
        SessionRow.starts_ms - lead_ms <= now,
        _R.lead_reminded_ms.is_(None),
    ]


def _due_start() -> list[Any]:
    return [SessionRow.status == session_records.LIVE, _R.start_reminded_ms.is_(None)]


async def _claim(db: AsyncSession, kind: str, due: list[Any], ctx: Context, now: int) -> int:
    """Claim up to `BATCH` reminders of ``kind`` among the reservations ``due`` selects and
    write their events; returns how many were looked at."""
    waiting = list(
        await db.scalars(
            select(_R.id)
            .join(SessionRow, SessionRow.id == _R.session_id)
            .outerjoin(ReminderPolicyRow, ReminderPolicyRow.brand == SessionRow.brand)
            .where(_R.status == ACTIVE, *due)
            .order_by(_R.created_ms, _R.id)
            .limit(BATCH)
        )
    )
    if not waiting:
        return 0
    column = _R.lead_reminded_ms if kind == LEAD else _R.start_reminded_ms
    taken = list(
        await db.scalars(
            update(_R)
            .where(_R.id.in_(waiting), column.is_(None), _R.status == ACTIVE)
            .values({column: now})
            .returning(_R)
        )
    )
    if taken:
        sessions = {
            row.id: row
            for row in await db.scalars(
                select(SessionRow).where(SessionRow.id.in_({r.session_id for r in taken}))
            )
        }
        rows = [
            outbox.row(
                r.brand,
                events.SESSION_REMINDER,
                reminder_data(r, sessions[r.session_id], kind, link=link(ctx, r)),
                now,
            )
            for r in taken
        ]
        await db.execute(_INSERT_EVENTS, rows)
        log.info("%d %s reminders written", len(rows), kind)
    return len(waiting)


def link(ctx: Context, reservation: ReservationRow) -> str:
    """The room's page for the reminded viewer, carrying their guide's share code (a fresh
    one, valid ``LIVE_SHARE_CODE_TTL_S``) so what they buy from it is the guide's."""
    path = f"/watch/{reservation.session_id}"
    if reservation.guide_id is None:
        return path
    code = share_codes.issue(
        ctx.settings.secret,
        share_codes.ShareCode(
            guide_id=reservation.guide_id,
            brand=reservation.brand,
            session_id=reservation.session_id,
            store=reservation.guide_store,
            expires_s=int(time.time()) + ctx.settings.share_code_ttl_s,
        ),
    )
    return f"{path}?share={code}"


def reminder_data(
    reservation: ReservationRow, session: SessionRow, kind: str, *, link: str
) -> dict[str, Any]:
    """What a ``session.reminder`` event carries."""
    return {
        "kind": kind,
        "reservation_id": reservation.id,
        "session_id": session.id,
        "title": session.title,
        "cover_url": session.cover_url,
        "starts_at": session.starts_ms,
        "started_at": session.started_ms,
        "viewer_id": reservation.viewer_id,
        "viewer_name": reservation.viewer_name,
        "guide_id": reservation.guide_id,
        "guide_store": reservation.guide_store,
        "link": link,
    }
