"""Host endpoints of moderation, private messages and lucky draws."""

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.db.unit import transaction
from live.platform.clock import now_ms
from live.sessions import draws, muted, session_records

HOSTS = (Role.HOST, Role.ADMIN)
ACTIONS = ("mute", "unmute", "kick")


async def _live_session(request: Request) -> tuple[str, int | None]:
    caller = req.principal(request, *HOSTS)
    session_id = request.path_params["session_id"]
    async with transaction(req.context(request).db) as db:
        session = await session_records.load(db, caller.brand, session_id)
    return session_id, session.started_ms


async def moderate(request: Request) -> JSON:
    """``POST /api/sessions/{id}/moderation`` {action: mute|unmute|kick, user_id, name?}."""
    session_id, _ = await _live_session(request)
    body = await req.json_object(request)
    action = body.get("action")
    if action not in ACTIONS:
        raise ClientError(Code.INVALID_REQUEST, "action must be mute, unmute or kick")
    user_id = req.text(body, "user_id", max_chars=64)
    ctx = req.context(request)
    moderation = ctx.hub.moderation
    if action == "mute":
        await moderation.mute(session_id, user_id)
        name = req.optional_text(body, "name", max_chars=64)
        await muted.remember(ctx.redis, session_id, user_id, name)
    elif action == "unmute":
        await moderation.unmute(session_id, user_id)
        await muted.forget(ctx.redis, session_id, user_id)
    else:
        await moderation.kick(session_id, user_id)
    return JSON({"session_id": session_id, "action": action, "user_id": user_id})


async def muted_users(request: Request) -> JSON:
    """``GET /api/sessions/{id}/moderation`` (host, admin): the session's muted users, by the
    name the host saw them by."""
    session_id, _ = await _live_session(request)
    listed = await muted.listed(req.context(request).redis, session_id)
    return JSON({"session_id": session_id, "muted": listed})


async def delete_comment(request: Request) -> JSON:
    """``DELETE /api/sessions/{id}/comments/{comment_id}``: viewers drop it; archive marks it."""
    session_id, started_ms = await _live_session(request)
    comment_id = request.path_params["comment_id"]
    if not comment_id.isdigit():
        raise ClientError(Code.INVALID_REQUEST, "comment ids are decimal numbers")
    seq = await req.context(request).hub.moderation.delete_comment(
        session_id, comment_id, started_ms=started_ms
    )
    return JSON({"session_id": session_id, "comment_id": comment_id, "seq": seq})


async def private_message(request: Request) -> JSON:
    """``POST /api/sessions/{id}/messages`` {user_id, text}: a ``private`` frame to one viewer."""
    session_id, _ = await _live_session(request)
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    user_id = req.text(body, "user_id", max_chars=64)
    frame = {
        "type": "private",
        "from": caller.name or caller.sub,
        "text": req.text(body, "text", max_chars=500),
        "ts": now_ms(),
    }
    await req.context(request).hub.moderation.private(session_id, user_id, frame)
    return JSON({"session_id": session_id, "user_id": user_id, "sent": True}, status_code=202)


async def open_draw(request: Request) -> JSON:
    """``POST /api/sessions/{id}/draws`` {winners, keyword?, duration_s, prize?} -> 201.

    Without a keyword, the viewers present in the room during the window enter.
    """
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    fields = {
        "winners": req.integer(body, "winners", minimum=1, maximum=1000),
        "keyword": req.optional_text(body, "keyword", max_chars=20),
        "duration_s": req.integer(body, "duration_s", minimum=1, maximum=3600),
        "prize": req.optional_text(body, "prize", max_chars=100),
    }
    draw = await draws.open_draw(
        req.context(request), caller, request.path_params["session_id"], fields
    )
    return JSON(draw, status_code=201)


async def close_draw(request: Request) -> JSON:
    """``POST /api/sessions/{id}/draws/{draw_id}/close`` -> the result (same on a retry)."""
    caller = req.principal(request, *HOSTS)
    result = await draws.close_draw(
        req.context(request),
        caller,
        request.path_params["session_id"],
        request.path_params["draw_id"],
    )
    return JSON(result)


async def list_draws(request: Request) -> JSON:
    """``GET /api/sessions/{id}/draws`` (any role of the brand): the session's draws, oldest
    first, each with its ``status`` and, once closed, its ``result``."""
    caller = req.principal(request)
    session_id = request.path_params["session_id"]
    async with transaction(req.context(request).db) as db:
        await session_records.load(db, caller.brand, session_id)
    return JSON(
        {"session_id": session_id, "items": await draws.listed(req.context(request), session_id)}
    )


routes = [
    Route("/api/sessions/{session_id}/moderation", moderate, methods=["POST"]),
    Route("/api/sessions/{session_id}/moderation", muted_users, methods=["GET"]),
    Route("/api/sessions/{session_id}/comments/{comment_id}", delete_comment, methods=["DELETE"]),
    Route("/api/sessions/{session_id}/messages", private_message, methods=["POST"]),
    Route("/api/sessions/{session_id}/draws", open_draw, methods=["POST"]),
    Route("/api/sessions/{session_id}/draws", list_draws, methods=["GET"]),
    Route("/api/sessions/{session_id}/draws/{draw_id}/close", close_draw, methods=["POST"]),
]
