"""Reservations as records: statuses, loading a viewer's, counting a session's (in total and
per guide), listing a guide's, and their JSON shape.

Nothing here takes the node's context: use cases (`live.reservations.booking`, `reminders`,
`no_shows`) call these with their own database session.
"""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.models import ReservationRow

#: A reservation is ``active`` until its viewer cancels it; reserving again reactivates it.
ACTIVE, CANCELLED = "active", "cancelled"


async def of_viewer(db: AsyncSession, session_id: str, viewer_id: str) -> ReservationRow | None:
    """The viewer's reservation of the session (active or cancelled), or None."""
    found: ReservationRow | None = await db.scalar(
        select(ReservationRow).where(
            ReservationRow.session_id == session_id, ReservationRow.viewer_id == viewer_id
        )
    )
    return found


async def count(db: AsyncSession, session_id: str) -> int:
    """The session's active reservations."""
    total = await db.scalar(
        select(func.count()).where(
            ReservationRow.session_id == session_id, ReservationRow.status == ACTIVE
        )
    )
    return int(total or 0)


async def count_by_guide(db: AsyncSession, session_id: str) -> dict[str | None, int]:
    """The session's active reservations per guide (None: reserved through no guide)."""
    rows = await db.execute(
        select(ReservationRow.guide_id, func.count())
        .where(ReservationRow.session_id == session_id, ReservationRow.status == ACTIVE)
        .group_by(ReservationRow.guide_id)
    )
    return {guide_id: int(n) for guide_id, n in rows}


async def of_guide(
    db: AsyncSession, brand: str, guide_id: str, *, session_id: str | None, limit: int
) -> list[ReservationRow]:
    """Up to ``limit`` active reservations the guide brought (of one session when given),
    newest first."""
    query = select(ReservationRow).where(
        ReservationRow.brand == brand,
        ReservationRow.guide_id == guide_id,
        ReservationRow.status == ACTIVE,
    )
    if session_id is not None:
        query = query.where(ReservationRow.session_id == session_id)
    query = query.order_by(ReservationRow.created_ms.desc(), ReservationRow.id.desc()).limit(limit)
    return list(await db.scalars(query))


def view(row: ReservationRow) -> dict[str, Any]:
    """A reservation as the API shows it."""
    return {
        "reservation_id": row.id,
        "session_id": row.session_id,
        "viewer_id": row.viewer_id,
        "viewer_name": row.viewer_name,
        "guide_id": row.guide_id,
        "status": row.status,
        "created_at": row.created_ms,
        "updated_at": row.updated_ms,
    }
