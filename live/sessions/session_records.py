"""The sessions of a brand, newest first: what a host panel lists and a guide shares."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from live.db.models import SessionRow

MAX_LISTED = 100


async def of_brand(
    db: AsyncSession, brand: str, *, status: str | None = None, limit: int = MAX_LISTED
) -> list[SessionRow]:
    """Up to ``limit`` sessions of ``brand`` (of one ``status`` when given), newest first."""
    query = select(SessionRow).where(SessionRow.brand == brand)
    if status is not None:
        query = query.where(SessionRow.status == status)
    query = query.order_by(SessionRow.created_ms.desc(), SessionRow.id.desc()).limit(limit)
    return list(await db.scalars(query))
