"""Opening a replay of an ended session: which window of which archive, and what the record
says about its products.

Contract: `open_replay` refuses, with the catalog code a client can act on, a session of
another brand or none (``not_found``), one not ended (``session_not_live``), one whose archive
was deleted (``archive_deleted``) or is still being written (``archive_pending``), an unknown
clip (``not_found``) and a window outside the session (``invalid_request``). A viewer's share
code touches its guide as opening the clip over HTTP does, and a viewer playing a clip counts
one view of it.
"""

import logging
from dataclasses import dataclass

from common.errors import ClientError, Code
from live.auth.tokens import Principal, Role
from live.clips import library, stats
from live.context import Context
from live.db.models import ClipRow, ProductRow, SessionRow
from live.db.unit import transaction
from live.guides import arrivals
from live.replays.index import ScriptIndex, index_name
from live.sessions import session_records
from replay.errors import ArchiveError
from replay.manifest import Manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Replay:
    """What a replay plays: the window ``from_ms..to_ms`` of an ended session's archive."""

    session: SessionRow
    products: list[ProductRow]
    manifest: Manifest
    index: ScriptIndex
    from_ms: int
    to_ms: int
    clip: ClipRow | None


@dataclass(frozen=True, slots=True)
class Asked:
    """The replay a client asked for: a clip, or a window (bounds optional)."""

    clip_id: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    share: str | None = None


async def open_replay(ctx: Context, caller: Principal, session_id: str, asked: Asked) -> Replay:
    """The replay ``asked`` for, or `ClientError` saying why not (see the module doc)."""
    if asked.clip_id is not None and (asked.from_ms is not None or asked.to_ms is not None):
        raise ClientError(Code.INVALID_REQUEST, "ask for a clip_id or a from_ms/to_ms window")
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, caller.brand, session_id)
        products = await session_records.products_of(db, session_id)
    if session.status != session_records.ENDED:
        raise ClientError(Code.SESSION_NOT_LIVE, "replay is available once the session ended")
    if session.archive_deleted_ms is not None:
        raise ClientError(Code.ARCHIVE_DELETED, "the archive of this session was deleted")
    try:
        index = await ctx.replay_indexes.get(ctx.store, session_id)
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the archive could not be read: {exc}") from exc
    if index is None:
        raise ClientError(Code.ARCHIVE_PENDING, "the archive of this session is being written")
    manifest = index.manifest
    clip = await _clip(ctx, session, asked.clip_id)
    if clip is not None:
        from_ms, to_ms = clip.from_ms, clip.to_ms
    else:
        from_ms = asked.from_ms if asked.from_ms is not None else 0
        to_ms = asked.to_ms if asked.to_ms is not None else max(manifest.to_ms, from_ms)
    if to_ms < from_ms:
        raise ClientError(Code.INVALID_REQUEST, "to_ms must not be before from_ms")
    if caller.role == Role.VIEWER:
        if asked.share:
            await arrivals.from_share(ctx, caller, session_id, asked.share, clip_id=asked.clip_id)
        if clip is not None:
            await stats.count_view(ctx, clip, caller.sub)
    return Replay(session, products, manifest, index, from_ms, to_ms, clip)


async def _clip(ctx: Context, session: SessionRow, clip_id: str | None) -> ClipRow | None:
    if clip_id is None:
        return None
    for row in await library.of_session(ctx, session):
        if row.id == clip_id:
            return row
    raise ClientError(Code.NOT_FOUND, f"no clip {clip_id} in this session")


async def prepare(ctx: Context, session_id: str) -> None:
    """Build and store the replay index of a session whose archive was just completed, so that
    its first viewer does not wait for a pass over every durable segment (best effort)."""
    try:
        await ctx.replay_indexes.get(ctx.store, session_id)
        # An admin may have deleted the archive meanwhile, after listing its objects: the
        # record says so before the listing, so checking it after the write finds every case.
        async with transaction(ctx.db) as db:
            session = await db.get(SessionRow, session_id)
        if session is not None and session.archive_deleted_ms is not None:
            ctx.replay_indexes.forget(session_id)
            await ctx.store.delete(index_name(session_id))
    except ClientError as exc:
        log.warning("replay index of %s not checked against the record: %s", session_id, exc)
    except ArchiveError as exc:
        log.warning("replay index of %s not prepared: %s", session_id, exc)
    except Exception:
        # Nobody awaits this task: a bug is logged here, and the first replay builds it again.
        log.exception("replay index of %s not prepared", session_id)
