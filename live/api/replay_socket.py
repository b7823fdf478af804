"""The replay socket: play a clip or a window of an ended session from its archive.

``GET /ws/replay/{session_id}?token=&clip_id=|from_ms=&to_ms=&speed=&share=``. Authenticated
and refused like the room socket (an ``error`` frame, then a close code from the catalog);
then `live.replays.player.Player` plays while this handler reads control messages.
"""

import asyncio
import contextlib
import logging

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from common import codec
from common.errors import ClientError, CloseCode, Code
from live.api import request as req
from live.api.room import StarletteSocket
from live.auth import tokens
from live.auth.tokens import Principal, Role
from live.context import Context
from live.replays.opening import Asked, open_replay
from live.replays.player import Player
from realtime import protocol, replay_protocol
from replay.errors import ArchiveError

log = logging.getLogger(__name__)

_CLOSE_CODES = {
    Code.TOKEN_INVALID: CloseCode.TOKEN_INVALID,
    Code.TOKEN_EXPIRED: CloseCode.TOKEN_INVALID,
    Code.NOT_FOUND: CloseCode.SESSION_NOT_FOUND,
    Code.ORIGIN_NOT_ALLOWED: CloseCode.ORIGIN_NOT_ALLOWED,
    Code.SESSION_NOT_LIVE: CloseCode.NOT_REPLAYABLE,
    Code.ARCHIVE_DELETED: CloseCode.NOT_REPLAYABLE,
    Code.INVALID_REQUEST: CloseCode.INVALID_REQUEST,
    Code.ARCHIVE_PENDING: CloseCode.ARCHIVE_PENDING,
}


def _asked(websocket: WebSocket) -> tuple[Asked, float]:
    params = websocket.query_params
    try:
        speed = replay_protocol.speed_from_query(params.get("speed") or "1")
    except protocol.ProtocolError as exc:
        raise ClientError(exc.code, exc.message) from None
    asked = Asked(
        clip_id=params.get("clip_id") or None,
        from_ms=req.query_integer(websocket, "from_ms", minimum=0),
        to_ms=req.query_integer(websocket, "to_ms", minimum=0),
        share=params.get("share") or None,
    )
    return asked, speed


async def _refuse(websocket: WebSocket, exc: ClientError) -> None:
    await websocket.send_text(codec.encode_text(protocol.error_frame(exc.code, exc.message)))
    await websocket.close(_CLOSE_CODES.get(exc.code, CloseCode.SHUTTING_DOWN), exc.code.value)


async def replay_socket(websocket: WebSocket) -> None:
    """``GET /ws/replay/{session_id}``: see the module doc."""
    ctx = req.context(websocket)
    await websocket.accept()
    try:
        caller = tokens.verify(websocket.query_params.get("token") or "", ctx.settings.secret)
        policy = await ctx.policies.get(caller.brand)
        if not policy.allows_origin(websocket.headers.get("origin")):
            raise ClientError(Code.ORIGIN_NOT_ALLOWED, "this page may not open the replay")
        asked, speed = _asked(websocket)
        replay = await open_replay(ctx, caller, websocket.path_params["session_id"], asked)
    except ClientError as exc:
        await _refuse(websocket, exc)
        return
    socket = StarletteSocket(websocket)
    # As on the room socket, only the host channel sees who wrote a comment.
    staff = caller.role in (Role.HOST, Role.ADMIN)
    player = Player(replay, ctx.store, socket.send_text, speed=speed, hide_user_ids=not staff)
    await _serve(ctx, caller, socket, player)


async def _serve(ctx: Context, caller: Principal, socket: StarletteSocket, player: Player) -> None:
    playing = asyncio.create_task(player.run(), name="replay-player")
    reading = asyncio.create_task(_read(ctx, socket, player), name="replay-reader")
    try:
        await asyncio.wait({playing, reading}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (playing, reading):
            task.cancel()
        results = await asyncio.gather(playing, reading, return_exceptions=True)
    failure = next((r for r in results if isinstance(r, BaseException)), None)
    if failure is None or isinstance(failure, asyncio.CancelledError | WebSocketDisconnect):
        return  # the client went away
    if isinstance(failure, ArchiveError):
        log.warning("replay of %s stopped: %s", caller.sub, failure)
        error = protocol.error_frame(Code.UNAVAILABLE, f"the archive could not be read: {failure}")
        close: int = CloseCode.SHUTTING_DOWN
    else:
        # A bug must cost one socket a clear close, not a silent drop.
        log.error("replay socket of %s failed", caller.sub, exc_info=failure)
        error, close = protocol.error_frame(Code.INTERNAL, "internal"), 1011
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await player.send(error)
    await socket.close(close, str(error["code"]))


async def _read(ctx: Context, socket: StarletteSocket, player: Player) -> None:
    """Answer control messages until the client goes; a bad one gets an ``error`` frame."""
    while True:
        text = await socket.receive_text()
        if text is None:
            return
        try:
            command = replay_protocol.parse(text, max_frame_bytes=ctx.settings.max_frame_bytes)
            answer = player.command(command)
        except protocol.ProtocolError as exc:
            answer = protocol.error_frame(exc.code, exc.message, exc.ref)
        except ClientError as exc:
            answer = protocol.error_frame(exc.code, exc.message, command.ref)
        if answer is not None:
            await player.send(answer)


routes = [WebSocketRoute("/ws/replay/{session_id}", replay_socket)]
