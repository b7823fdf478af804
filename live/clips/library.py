"""Clips as records: the explanation clips cut when a session's archive is complete, and the
clips hosts create or edit.

Contract: the first read of an ended session's clips whose archive is complete cuts one clip per
product explained (`live.clips.cutting.cut`, ids ``<session>-<n>``) and records them, titled after
the product, once (a racing second cut finds them recorded). Hosts create clips of a product over
any window of the session and edit any clip's title and window. Each clip is shown with its window
in the session's time (``from_ms``/``to_ms``, ``t_ms``) and in the recorded video's
(``video_from_ms``/``video_to_ms``: plus ``LIVE_CLIP_OFFSET_MS``, never below 0).
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.clips import cutting
from live.context import Context
from live.db.models import ClipRow, ProductRow, SessionRow
from live.db.unit import transaction
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records
from live.webhooks import events, outbox
from replay.errors import ArchiveError
from replay.reader import read_replay

AUTO, HOST = "auto", "host"


def view(row: ClipRow, *, offset_ms: int) -> dict[str, Any]:
    """A clip as the API shows it."""
    return {
        "clip_id": row.id,
        "session_id": row.session_id,
        "product_id": row.product_id,
        "title": row.title,
        "from_ms": row.from_ms,
        "to_ms": row.to_ms,
        "video_from_ms": max(0, row.from_ms + offset_ms),
        "video_to_ms": max(0, row.to_ms + offset_ms),
        "source": row.source,
    }


async def of_session(ctx: Context, session: SessionRow) -> list[ClipRow]:
    """The session's clips by start, cutting the automatic ones first if not done yet."""
    async with transaction(ctx.db) as db:
        rows = await _rows(db, session.id)
    if session.status != session_records.ENDED or any(row.source == AUTO for row in rows):
        return rows
    try:
        events = await read_replay(ctx.store, session.id, from_ms=None, to_ms=None)
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the archive could not be read: {exc}") from exc
    if events is None:
        raise ClientError(Code.ARCHIVE_PENDING, "the archive of this session is being written")
    cut = cutting.cut(session.id, events)
    if cut:
        try:
            await _record_cut(ctx, session, cut)
        except ClientError as exc:
            if exc.code != Code.CONFLICT:  # another request recorded them first
                raise
    async with transaction(ctx.db) as db:
        return await _rows(db, session.id)


async def find(ctx: Context, brand: str, clip_id: str) -> tuple[SessionRow, ClipRow]:
    """A clip of ``brand`` by its id alone (a shared clip link names no session), with its
    session; ``not_found`` for another brand's, ``archive_deleted`` once its archive went."""
    async with transaction(ctx.db) as db:
        clip = await db.get(ClipRow, clip_id)
        session = await db.get(SessionRow, clip.session_id) if clip is not None else None
    if clip is None or session is None or clip.brand != brand or session.brand != brand:
        raise ClientError(Code.NOT_FOUND, f"no clip {clip_id}")
    if session.archive_deleted_ms is not None:
        raise ClientError(Code.ARCHIVE_DELETED, "the archive of this session was deleted")
    return session, clip


async def cut_archived(ctx: Context, session_id: str) -> None:
    """Cut an ended session's clips as soon as its manifest is written, so ``clip.ready``
    goes out then rather than at the first read of its clips (best effort: that read cuts
    them otherwise)."""
    async with transaction(ctx.db) as db:
        session = await db.get(SessionRow, session_id)
    if session is not None and session.status == session_records.ENDED:
        await of_session(ctx, session)


async def _rows(db: AsyncSession, session_id: str) -> list[ClipRow]:
    return list(
        await db.scalars(
            select(ClipRow)
            .where(ClipRow.session_id == session_id)
            .order_by(ClipRow.from_ms, ClipRow.id)
        )
    )


async def _record_cut(ctx: Context, session: SessionRow, cut: list[dict[str, Any]]) -> None:
    now = now_ms()
    async with transaction(ctx.db) as db:
        titles = {p.id: p.title for p in await session_records.products_of(db, session.id)}
        rows = [
            ClipRow(
                id=clip["clip_id"],
                brand=session.brand,
                session_id=session.id,
                product_id=clip["product_id"],
                title=titles.get(clip["product_id"], clip["product_id"]),
                from_ms=clip["from_ms"],
                to_ms=clip["to_ms"],
                source=AUTO,
                created_ms=now,
                updated_ms=now,
            )
            for clip in cut
        ]
        db.add_all(rows)
        for row in rows:
            await outbox.add(
                db, session.brand, events.CLIP_READY, events.clip_data(row), now_ms=now
            )


def _window(from_ms: int, to_ms: int) -> None:
    if to_ms <= from_ms:
        raise ClientError(Code.INVALID_REQUEST, "a clip ends after it starts (to_ms > from_ms)")


async def create(
    ctx: Context, principal: Principal, session_id: str, fields: dict[str, Any]
) -> ClipRow:
    """A host's clip of a product of the session over ``from_ms``-``to_ms``."""
    _window(fields["from_ms"], fields["to_ms"])
    now = now_ms()
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
        product = await db.get(ProductRow, fields["product_id"])
        if product is None or product.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no product {fields['product_id']} in this session")
        row = ClipRow(
            id=ids.new_id("clp"),
            brand=session.brand,
            session_id=session_id,
            product_id=product.id,
            title=fields.get("title") or product.title,
            from_ms=fields["from_ms"],
            to_ms=fields["to_ms"],
            source=HOST,
            created_ms=now,
            updated_ms=now,
        )
        db.add(row)
        await outbox.add(db, session.brand, events.CLIP_READY, events.clip_data(row), now_ms=now)
    return row


async def edit(
    ctx: Context, principal: Principal, session_id: str, clip_id: str, fields: dict[str, Any]
) -> ClipRow:
    """Change a clip's title and window (fields absent stay as they are)."""
    async with transaction(ctx.db) as db:
        await session_records.load(db, principal.brand, session_id)
        row = await db.get(ClipRow, clip_id)
        if row is None or row.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no clip {clip_id} in this session")
        from_ms = fields["from_ms"] if fields.get("from_ms") is not None else row.from_ms
        to_ms = fields["to_ms"] if fields.get("to_ms") is not None else row.to_ms
        _window(from_ms, to_ms)
        row.from_ms, row.to_ms = from_ms, to_ms
        if fields.get("title"):
            row.title = fields["title"]
        row.updated_ms = now_ms()
    return row
