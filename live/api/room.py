"""The room socket: authenticate, attribute the share code, then hand over to the hub."""

import logging
from collections.abc import Callable

from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from common import codec
from common.errors import ClientError, CloseCode, Code
from live.api import request as req
from live.api.responses import error
from live.auth import tokens
from live.auth.tokens import Role
from live.context import Context
from live.db.models import SessionRow
from live.db.unit import transaction
from live.guides import arrivals
from live.platform.ws_protocol import FRAME_SINK
from live.sessions import session_records, snapshots
from realtime import protocol
from realtime.connection import FrameSink, Viewer

log = logging.getLogger(__name__)


class StarletteSocket:
    """Adapts a Starlette `WebSocket` to the hub's `Socket` protocol."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def receive_text(self) -> str | None:
        """The next frame as text; binary frames are decoded as UTF-8 (then parsed as JSON)."""
        message = await self._websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("text") is not None:
            text: str = message["text"]
            return text
        data: bytes = message.get("bytes") or b""
        return data.decode("utf-8", errors="replace")

    async def send_text(self, data: str) -> None:
        """Write one text frame."""
        await self._websocket.send_text(data)

    async def close(self, code: int, reason: str) -> None:
        """Close with ``code``."""
        try:
            await self._websocket.close(code, reason)
        except (RuntimeError, WebSocketDisconnect):
            log.debug("socket already closed")

    def frame_sink(self) -> FrameSink | None:
        """The server's direct frame writes (`live.platform.ws_protocol`), when it offers them."""
        offered = self._websocket.scope.get("extensions", {}).get(FRAME_SINK)
        return offered["sink"] if offered else None


async def _refuse(websocket: WebSocket, exc: ClientError, close_code: int) -> None:
    await websocket.send_text(codec.encode_text(protocol.error_frame(exc.code, exc.message)))
    await websocket.close(close_code, exc.code.value)


def _since(websocket: WebSocket) -> int | None:
    raw = websocket.query_params.get("since")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return None


_CLOSE_CODES = {
    Code.NOT_FOUND: CloseCode.SESSION_NOT_FOUND,
    Code.ORIGIN_NOT_ALLOWED: CloseCode.ORIGIN_NOT_ALLOWED,
    Code.TOO_MANY_CONNECTIONS: CloseCode.TOO_MANY_CONNECTIONS,
}


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """The node-wide allowlist (``LIVE_ALLOWED_ORIGINS``): empty allows all; a client that sends
    no Origin is not a browser (mini programs, apps, servers) and is let through, because the
    allowlist exists against pages of other sites riding a viewer's browser."""
    return not allowed or origin is None or origin.rstrip("/").lower() in allowed


async def _deny(websocket: WebSocket, exc: ClientError) -> None:
    """Refuse the upgrade itself: an HTTP answer with the catalog body, no socket opened."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error(exc))
    else:
        # Servers without the denial extension answer a close before accept with a bare 403.
        await websocket.close(_CLOSE_CODES.get(exc.code, CloseCode.SHUTTING_DOWN), exc.code.value)


async def room_socket(websocket: WebSocket) -> None:
    """``GET /ws/sessions/{id}?token=&share=&since=``."""
    ctx = req.context(websocket)
    if not origin_allowed(websocket.headers.get("origin"), ctx.settings.allowed_origins):
        await _deny(websocket, ClientError(Code.ORIGIN_NOT_ALLOWED, "this page may not connect"))
        return
    try:
        caller = tokens.verify(websocket.query_params.get("token") or "", ctx.settings.secret)
    except ClientError as exc:
        await websocket.accept()
        await _refuse(websocket, exc, CloseCode.TOKEN_INVALID)
        return
    ip = websocket.client.host if websocket.client else "unknown"
    try:
        slot = ctx.sockets.admit(ip=ip, user=f"{caller.brand}/{caller.sub}")
    except ClientError as exc:
        await _deny(websocket, exc)
        return
    try:
        # Joins take turns (`realtime.admission`): a storm neither starves the host's requests
        # nor builds a backlog that delays everyone; past the queue, the join comes back later.
        ticket = await ctx.joins.enter()
        if ticket is None:
            await websocket.accept()
            await _busy(websocket, ctx.joins.refusal_hint_ms())
            return
        try:
            # Inside: a client that went away while queued fails the accept, and its turn
            # must still pass on.
            await websocket.accept()
            await _join(ctx, websocket, caller, joined=ticket.release)
        finally:
            ticket.release()
    finally:
        slot.release()


async def _busy(websocket: WebSocket, retry_after_ms: int) -> None:
    """Refuse a join the node has no room for, saying when to come back."""
    frame = protocol.error_frame(Code.BUSY, "this node is busy with other joins; retry later")
    await websocket.send_text(codec.encode_text({**frame, "retry_after_ms": retry_after_ms}))
    await websocket.close(CloseCode.BUSY, f"busy; retry_after_ms={retry_after_ms}")


async def _read_session(ctx: Context, session_id: str) -> SessionRow | None:
    async with transaction(ctx.db) as db:
        return await db.get(SessionRow, session_id)


async def _session(ctx: Context, brand: str, session_id: str) -> SessionRow:
    """The session a socket joins, read once per second for a join storm (the snapshot that
    follows is read per room ``seq``, so an end announced meanwhile still reaches the viewer)."""
    row: SessionRow | None = await ctx.session_rows.get(
        session_id, lambda: _read_session(ctx, session_id)
    )
    if row is None or row.brand != brand:
        raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
    return row


async def _join(
    ctx: Context, websocket: WebSocket, caller: tokens.Principal, *, joined: Callable[[], None]
) -> None:
    session_id = websocket.path_params["session_id"]
    try:
        session = await _session(ctx, caller.brand, session_id)
        policy = await ctx.policies.get(caller.brand)
        if not policy.allows_origin(websocket.headers.get("origin")):
            raise ClientError(Code.ORIGIN_NOT_ALLOWED, "this page may not open the live room")
        if caller.role == Role.VIEWER and websocket.query_params.get("share"):
            await arrivals.from_share(ctx, caller, session_id, websocket.query_params["share"])
    except ClientError as exc:
        await _refuse(websocket, exc, _CLOSE_CODES.get(exc.code, CloseCode.SHUTTING_DOWN))
        return
    if session.status == session_records.ENDED:
        await websocket.send_text(codec.encode_text({"type": "ended", "session_id": session_id}))
        await websocket.close(1000, "session ended")
        return
    viewer = Viewer(
        user_id=caller.sub, brand=caller.brand, role=caller.role.value, name=caller.name
    )
    await ctx.hub.serve(
        session_id,
        viewer,
        StarletteSocket(websocket),
        since=_since(websocket),
        epoch=websocket.query_params.get("epoch") or None,
        snapshot=snapshots.provider(ctx),
        joined=joined,
    )


#: The room socket's path, served by `RoomSockets` ahead of the router.
PATH = "/ws/sessions/{session_id}"
#: `PATH` as the router would match it (the session id one path segment).
_ROOM_PATH = compile_path(PATH)[0]


class RoomSockets:
    """Pure ASGI middleware, the room socket's way in: ``/ws/sessions/{id}`` goes straight to
    `room_socket`; everything else goes on to the app.

    Why not a route: behind the middleware after this one sit the exception boundary (which
    wraps the socket's ``send``) and the router (which tries its hundred routes in order), and
    every resume of the socket's coroutine passes down through all of them again. In a join
    storm those layers were about a fifth of a join's CPU, most of it paid once per socket
    (docs/benchmarks.md, "Join storms"). Placed after `RequestIds`, a socket keeps
    its request id and access line; the later middleware lets websockets through untouched,
    and `room_socket` answers every failure itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a room socket, or pass the request on."""
        if scope["type"] == "websocket":
            # Behind a proxy's prefix, the path carries the root path first (ASGI).
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            match = _ROOM_PATH.match(path[len(root) :] if path.startswith(root) else path)
            if match is not None:
                scope["path_params"] = match.groupdict()
                await room_socket(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)
