"""Archive endpoints: replay of a session's events and its clips."""

import io
import tarfile
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import delete
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from common import codec
from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Principal, Role
from live.clips import library, stats
from live.db.models import ClipRow, SessionRow
from live.db.unit import transaction
from live.guides import arrivals, question_records
from live.platform.clock import now_ms
from live.replays.index import mark_deleted
from live.sessions import session_records
from replay.errors import ArchiveError
from replay.manifest import manifest_name
from replay.reader import read_replay

RETRY_AFTER_S = "2"
NDJSON = "application/x-ndjson"
_LINES_PER_CHUNK = 256


async def _archived(request: Request, from_ms: int | None, to_ms: int | None) -> list[Any]:
    caller = req.principal(request)
    ctx = req.context(request)
    session_id = request.path_params["session_id"]
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, caller.brand, session_id)
    if session.status != session_records.ENDED:
        raise ClientError(Code.SESSION_NOT_LIVE, "replay is available once the session ended")
    _not_deleted(session)
    try:
        events = await read_replay(ctx.store, session_id, from_ms=from_ms, to_ms=to_ms)
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the archive could not be read: {exc}") from exc
    if events is None:
        raise ClientError(Code.ARCHIVE_PENDING, "the archive of this session is being written")
    # A guide's answer is archived for the record, never shown to other viewers.
    events = [
        e
        for e in events
        if question_records.readable_by(e, role=caller.role.value, user_id=caller.sub)
    ]
    if from_ms is None and to_ms is None:
        return mark_deleted(events)
    try:
        whole = await read_replay(ctx.store, session_id, from_ms=None, to_ms=None)
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the archive could not be read: {exc}") from exc
    return mark_deleted(events, session_events=whole or [])


async def replay(request: Request) -> Response:
    """``GET /api/sessions/{id}/replay?from_ms=&to_ms=``: archived events of the window.

    A JSON array by default; one event per line (NDJSON) when ``Accept`` names
    ``application/x-ndjson``. Either way the window is read and checksummed before the first
    byte is sent, so a failure is always an error status, never a truncated body.
    """
    from_ms = req.query_integer(request, "from_ms", minimum=0)
    to_ms = req.query_integer(request, "to_ms", minimum=0)
    if from_ms is not None and to_ms is not None and to_ms < from_ms:
        raise ClientError(Code.INVALID_REQUEST, "to_ms must not be before from_ms")
    events = await _archived(request, from_ms, to_ms)
    if _accepts_ndjson(request):
        return StreamingResponse(_ndjson(events), media_type=NDJSON)
    return JSON(events)


def _accepts_ndjson(request: Request) -> bool:
    for item in request.headers.get("accept", "").split(","):
        media_type, *params = (part.strip().lower() for part in item.split(";"))
        if media_type == NDJSON and _quality(params) > 0:
            return True
    return False


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


async def _ndjson(events: list[Any]) -> AsyncIterator[bytes]:
    # A few hundred lines per chunk: one write per event would cost a send per event.
    for start in range(0, len(events), _LINES_PER_CHUNK):
        chunk = events[start : start + _LINES_PER_CHUNK]
        yield b"".join(codec.encode(event) + b"\n" for event in chunk)


def _not_deleted(session: SessionRow) -> None:
    if session.archive_deleted_ms is not None:
        raise ClientError(Code.ARCHIVE_DELETED, "the archive of this session was deleted")


async def _session(request: Request) -> tuple[Principal, SessionRow]:
    caller = req.principal(request)
    async with transaction(req.context(request).db) as db:
        session = await session_records.load(db, caller.brand, request.path_params["session_id"])
    _not_deleted(session)
    return caller, session


async def list_clips(request: Request) -> JSON:
    """``GET /api/sessions/{id}/clips``: one clip per product explained (cut when the archive
    is complete), and the clips hosts made; by start."""
    _, session = await _session(request)
    if session.status != session_records.ENDED:
        raise ClientError(Code.SESSION_NOT_LIVE, "clips are cut once the session ended")
    ctx = req.context(request)
    rows = await library.of_session(ctx, session)
    offset = ctx.settings.clip_offset_ms
    clips = [library.view(row, offset_ms=offset) for row in rows]
    if req.principal(request).role != Role.VIEWER:
        # The brand's staff see how each clip sells; viewers see the clips only.
        figures = await stats.of_clips(ctx, [row.id for row in rows])
        for clip in clips:
            clip["stats"] = figures[clip["clip_id"]]
    return JSON(clips)


async def get_clip(request: Request) -> JSON:
    """``GET /api/sessions/{id}/clips/{clip_id}?share=``: one clip. A viewer arriving with a
    guide's share code for it (or for the session) touches that guide; a viewer's first
    opening counts as a view of the clip."""
    caller, session = await _session(request)
    ctx = req.context(request)
    clip_id = request.path_params["clip_id"]
    found = [row for row in await library.of_session(ctx, session) if row.id == clip_id]
    if not found:
        raise ClientError(Code.NOT_FOUND, f"no clip {clip_id} in this session")
    share = request.query_params.get("share")
    if caller.role == Role.VIEWER:
        if share:
            await arrivals.from_share(ctx, caller, session.id, share, clip_id=clip_id)
        await stats.count_view(ctx, found[0], caller.sub)
    return JSON(library.view(found[0], offset_ms=ctx.settings.clip_offset_ms))


def _clip_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    read_time = req.optional_integer if partial else req.integer
    return {
        "title": req.optional_text(body, "title"),
        "from_ms": read_time(body, "from_ms", minimum=0),
        "to_ms": read_time(body, "to_ms", minimum=0),
    }


async def create_clip(request: Request) -> JSON:
    """``POST /api/sessions/{id}/clips`` {product_id, from_ms, to_ms, title?} (host, admin)."""
    caller = req.principal(request, Role.HOST, Role.ADMIN)
    body = await req.json_object(request)
    fields = {"product_id": req.text(body, "product_id", max_chars=64)}
    fields.update(_clip_fields(body, partial=False))
    ctx = req.context(request)
    row = await library.create(ctx, caller, request.path_params["session_id"], fields)
    return JSON(library.view(row, offset_ms=ctx.settings.clip_offset_ms), status_code=201)


async def edit_clip(request: Request) -> JSON:
    """``PATCH /api/sessions/{id}/clips/{clip_id}`` {title?, from_ms?, to_ms?} (host, admin)."""
    caller = req.principal(request, Role.HOST, Role.ADMIN)
    body = await req.json_object(request)
    ctx = req.context(request)
    row = await library.edit(
        ctx,
        caller,
        request.path_params["session_id"],
        request.path_params["clip_id"],
        _clip_fields(body, partial=True),
    )
    return JSON(library.view(row, offset_ms=ctx.settings.clip_offset_ms))


async def export_bundle(request: Request) -> Response:
    """``GET /api/sessions/{id}/archive/bundle`` (admin): the session's archive as one tar:
    the manifest, every segment as stored (checksums unchanged) and ``clips.json``."""
    caller = req.principal(request, Role.ADMIN)
    async with transaction(req.context(request).db) as db:
        session = await session_records.load(db, caller.brand, request.path_params["session_id"])
    if session.status != session_records.ENDED:
        raise ClientError(Code.SESSION_NOT_LIVE, "the archive is complete once the session ended")
    _not_deleted(session)
    ctx = req.context(request)
    rows = await library.of_session(ctx, session)
    try:
        names = await ctx.store.list(f"sessions/{session.id}/")
        files = [(name, await ctx.store.get(name)) for name in names]
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the archive could not be read: {exc}") from exc
    offset = ctx.settings.clip_offset_ms
    clips_json = codec.encode([library.view(row, offset_ms=offset) for row in rows])
    files.append((f"sessions/{session.id}/clips.json", clips_json))
    bundle = io.BytesIO()
    with tarfile.open(fileobj=bundle, mode="w") as tar:
        for name, data in files:
            entry = tarfile.TarInfo(name)
            entry.size, entry.mtime = len(data), (session.ended_ms or 0) // 1000
            tar.addfile(entry, io.BytesIO(data))
    filename = f"{session.id}.tar"
    return Response(
        bundle.getvalue(),
        media_type="application/x-tar",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


async def delete_archive(request: Request) -> JSON:
    """``DELETE /api/sessions/{id}/archive`` (admin): delete the session's archive for good.

    The record says so first (replay, clips and exports answer ``archive_deleted`` from then
    on), then every object goes, the manifest last; the clips go too. Deleting again finishes a
    deletion an outage interrupted.
    """
    caller = req.principal(request, Role.ADMIN)
    ctx = req.context(request)
    session_id = request.path_params["session_id"]
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, caller.brand, session_id)
        if session.status != session_records.ENDED:
            raise ClientError(Code.SESSION_NOT_LIVE, "an archive is deleted once the session ended")
    try:
        names = await ctx.store.list(f"sessions/{session_id}/")
        manifest = manifest_name(session_id)
        if session.archive_deleted_ms is None and manifest not in names:
            raise ClientError(Code.ARCHIVE_PENDING, "the archive of this session is being written")
        async with transaction(ctx.db) as db:
            row = await db.get(SessionRow, session_id)
            assert row is not None  # sessions are never deleted
            row.archive_deleted_ms = row.archive_deleted_ms or now_ms()
            await db.execute(delete(ClipRow).where(ClipRow.session_id == session_id))
        ctx.replay_indexes.forget(session_id)
        for name in sorted(names, key=lambda n: n == manifest):
            await ctx.store.delete(name)
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the archive could not be deleted: {exc}") from exc
    return JSON({"session_id": session_id, "deleted_objects": len(names)})


routes = [
    Route("/api/sessions/{session_id}/archive", delete_archive, methods=["DELETE"]),
    Route("/api/sessions/{session_id}/archive/bundle", export_bundle, methods=["GET"]),
    Route("/api/sessions/{session_id}/clips/{clip_id}", get_clip, methods=["GET"]),
    Route("/api/sessions/{session_id}/replay", replay, methods=["GET"]),
    Route("/api/sessions/{session_id}/clips", list_clips, methods=["GET"]),
    Route("/api/sessions/{session_id}/clips", create_clip, methods=["POST"]),
    Route("/api/sessions/{session_id}/clips/{clip_id}", edit_clip, methods=["PATCH"]),
]
