"""The server side of WebSockets: uvicorn's sans-I/O protocol plus direct frame writes.

Room fan-out writes one pre-built frame to thousands of sockets per tick. Through ASGI each
write is an awaited `send` per viewer, run by a task woken for it; here the room hands the
bytes straight to the transport while the transport accepts them without waiting (not paused
by flow control, no close sent or received; the handshake is done, since the hub only gets a
socket after accepting it). Anything else falls back to the ASGI path, so the websocket
protocol state machine stays the only writer of control frames.

The sink is offered to the app in the connection scope under `FRAME_SINK`; servers without it
(the test client, another ASGI server) simply do not offer it.
"""

import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol, State
from websockets.speedups import apply_mask

from live.platform import ws_handshake
from live.platform.paced_upgrades import PacedHttpProtocol
from live.platform.settings import Settings
from live.platform.socket_waits import ReceiveQueue, WritableFlag

#: Scope extension under which a connection's `TransportSink` is offered.
FRAME_SINK = "live.frame_sink"

#: Where uvicorn and websockets write a room socket's own lines. Their INFO lines, three per
#: socket ("[accepted]", "connection open", "connection closed"), were a ninth of a join's CPU
#: in a join storm (docs/benchmarks.md, "Join storms"); `live.platform.logs.config` keeps this
#: logger at WARNING (DEBUG when the node logs at DEBUG), and ``live.access`` still has one
#: line per socket with its request id.
SOCKET_LOG = logging.getLogger("uvicorn.error.sockets")
#: Client messages a socket queues for the app before it stops reading from the peer.
READ_AHEAD = 8
#: A whole, masked, final text frame from a client: FIN set, no extension bits, opcode 1.
_TEXT = 0x81


def _frame_at(data: bytes, pos: int) -> tuple[int, int] | None:
    """Where the payload of the frame starting at ``pos`` starts, and its length; None while
    its header (mask key included) is not all in ``data``."""
    if len(data) - pos < 2:
        return None
    second = data[pos + 1]
    length, head = second & 0x7F, 2
    if length == 126:
        head = 4
    elif length == 127:
        head = 10
    start = pos + head + (4 if second & 0x80 else 0)
    if start > len(data):
        return None
    if head > 2:
        length = int.from_bytes(data[pos + 2 : pos + head], "big")
    return start, length


def _texts(data: bytes, max_size: int | None) -> list[str] | None:
    """The messages of ``data`` when it is nothing but whole final text frames from a client
    (masked, within ``max_size``, valid UTF-8); else None, and the websockets parser reads it
    (and refuses what is wrong with it)."""
    texts = []
    pos, end = 0, len(data)
    while pos < end:
        found = _frame_at(data, pos)
        if found is None or data[pos] != _TEXT or not data[pos + 1] & 0x80:
            return None
        start, length = found
        if (max_size is not None and length > max_size) or start + length > end:
            return None
        try:
            texts.append(apply_mask(data[start : start + length], data[start - 4 : start]).decode())
        except UnicodeDecodeError:
            return None
        pos = start + length
    return texts


def _ends_a_frame(data: bytes) -> bool:
    """Whether ``data``, starting at a frame's first byte, ends where a frame ends."""
    pos = 0
    while pos < len(data):
        found = _frame_at(data, pos)
        if found is None:
            return False
        start, length = found
        pos = start + length
    return pos == len(data)


class TransportSink:
    """`realtime.connection.FrameSink` over one uvicorn WebSocket connection."""

    __slots__ = ("_conn", "_protocol", "_transport", "_writable")

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        # Fixed for the connection's life; bound once because `write` runs per viewer per frame.
        self._protocol = protocol
        self._conn = protocol.conn
        self._writable = protocol.writable
        self._transport = protocol.transport

    def write(self, wire: bytes) -> bool:
        """Write a server text frame now, unless the transport is paused or the socket closing."""
        protocol = self._protocol
        if (
            not self._writable.is_set()
            or protocol.close_sent
            or protocol.disconnected
            or self._conn.state is not State.OPEN
        ):
            return False
        self._transport.write(wire)
        return True


class RoomSocketProtocol(WebSocketsSansIOProtocol):
    """Uvicorn's ``websockets-sansio`` protocol that also offers a `TransportSink`, trimmed
    for sockets that sit idle for hours by the thousand (docs/benchmarks.md, "Room load")."""

    # Uvicorn's per-socket attributes, in slots rather than an instance dict: with this many
    # attributes the dict is ~1.6 KiB per socket, the slots 8 bytes each. An attribute a later
    # uvicorn adds simply lands in the dict again (tests/live/platform/test_socket_memory.py
    # says so).
    __slots__ = (
        "app",
        "app_state",
        "asgi_version",
        "client",
        "close_sent",
        "close_timeout",
        "close_timer",
        "config",
        "conn",
        "connections",
        "curr_msg_data_type",
        "default_headers",
        "disconnected",
        "framed",
        "frames",
        "handshake_complete",
        "handshake_initiated",
        "initial_response",
        "last_ping_rtt",
        "logger",
        "loop",
        "opening",
        "pending_ping_payload",
        "ping_interval",
        "ping_sent_at",
        "ping_timeout",
        "ping_timer",
        "pong_timer",
        "queue",
        "read_paused",
        "request",
        "response",
        "root_path",
        "scheme",
        "scope",
        "server",
        "tasks",
        "transport",
        "writable",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Same jobs, no storage until something waits (live/platform/socket_waits.py).
        self.queue = ReceiveQueue()  # type: ignore[assignment]
        self.writable = WritableFlag()  # type: ignore[assignment]
        self.logger = SOCKET_LOG
        self.conn.logger = SOCKET_LOG
        #: The ``Sec-WebSocket-Accept`` to answer with, while a request taken over from the
        #: HTTP protocol awaits the app's accept (`take_over`).
        self.opening: bytes | None = None
        #: Every byte read so far ended a frame, so the next one starts a frame (`data_received`);
        #: known only of a request taken over, whose frames start on a fresh parser.
        self.framed = False

    @classmethod
    def take_over(cls, http: HttpToolsProtocol) -> "RoomSocketProtocol | None":
        """The protocol for ``http``'s connection, its ordinary upgrade request taken as parsed
        (`live.platform.ws_handshake`) and the app started as uvicorn starts it; None for any
        other request, which then takes uvicorn's path."""
        accept = ws_handshake.accept_key(http.scope["method"], http.scope["headers"])
        if accept is None or http.config.ws_per_message_deflate:
            return None
        found = ws_handshake.target(http.url, http.root_path)
        if found is None:
            return None
        path, raw_path, query_string = found
        protocol = cls(config=http.config, server_state=http.server_state, app_state=http.app_state)
        # `connection_made`, with what the HTTP protocol already asked the transport.
        protocol.connections.add(protocol)
        protocol.transport = http.transport
        protocol.server, protocol.client = http.server, http.client
        protocol.scheme = "wss" if http.scheme == "https" else "ws"
        # The request is read: what comes next is frames (websockets would parse them next too).
        conn = protocol.conn
        conn.parser = Protocol.parse(conn)
        next(conn.parser)
        protocol.framed = True
        protocol.opening = accept
        protocol.handshake_initiated = True
        protocol.scope = {
            "type": "websocket",
            "asgi": {"version": protocol.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": protocol.scheme,
            "server": protocol.server,
            "client": protocol.client,
            "root_path": protocol.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query_string,
            "headers": http.scope["headers"],
            "subprotocols": ws_handshake.subprotocols(http.scope["headers"]),
            "state": protocol.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        protocol.queue.put_nowait({"type": "websocket.connect"})
        task = protocol.loop.create_task(protocol.run_asgi())
        task.add_done_callback(protocol.on_task_complete)
        protocol.tasks.add(task)
        return protocol

    def data_received(self, data: bytes) -> None:
        """Read what the peer sent: a read that holds only whole text frames (a viewer's ``buy``,
        comment or like, read at once) is unmasked and queued here; anything else, and
        everything while a fragmented message, a close or a frame split across reads is in
        progress, goes through websockets' parser as uvicorn does.

        Through the parser a message cost a generator per frame, its events and uvicorn's
        dispatch of them: in a flash sale on the socket, 6 us of each refused attempt's 85-93
        (docs/benchmarks.md, "Ticks that give way to the orders being written").
        """
        conn = self.conn
        if self.framed:
            if not self.close_sent and conn.state is State.OPEN and conn.current_size is None:
                texts = _texts(data, conn.max_message_size)
                if texts is not None:
                    for text in texts:
                        self._queue_text(text)
                    return
            # A read that ends inside a frame leaves the rest to the parser, so from then on it
            # reads everything (a frame split across reads is rare: messages are small).
            self.framed = _ends_a_frame(data)
        super().data_received(data)
        if self.framed and conn.reader.buffer:
            self.framed = False

    def _queue_text(self, text: str) -> None:
        """A client's text message for the app, as `send_receive_event_to_app` queues one."""
        self.queue.put_nowait({"type": "websocket.receive", "text": text})
        if not self.read_paused and self.queue.qsize() >= READ_AHEAD:
            self.read_paused = True
            self.transport.pause_reading()

    async def run_asgi(self) -> None:
        """Offer the sink in the scope, then run the app as uvicorn does."""
        extensions = self.scope.get("extensions")
        if extensions is not None:
            extensions[FRAME_SINK] = {"sink": TransportSink(self)}
        await super().run_asgi()

    def send_receive_event_to_app(self) -> None:
        """Queue a client message for the app; stop reading only when `READ_AHEAD` wait.

        Uvicorn stops reading after every message and starts again when the app takes it: two
        changes of the event loop's watch on the socket per message, which in a flash sale of
        one ``buy`` per viewer was a cost per attempt of its own. A peer that sends faster than
        the app reads is still held to `READ_AHEAD` messages queued.
        """
        paused = self.read_paused
        self.read_paused = True  # so that uvicorn's own pause after each message is skipped
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = paused
        if not paused and self.queue.qsize() >= READ_AHEAD:
            self.read_paused = True
            self.transport.pause_reading()

    async def send(self, message: Any) -> None:
        """Send as uvicorn does, except the accept of a request taken over (`take_over`); once
        uvicorn answered an upgrade, forget its request and response (their headers, twice
        over): a room socket lives for hours and nothing reads them."""
        if self.opening is not None and message["type"] == "websocket.accept":
            await self._accept(self.opening, message)
            return
        if message["type"] != "websocket.accept":
            self.opening = None  # refused (a close or a denial): uvicorn answers it
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The websockets parser's generator frame keeps the request as a local for the
            # socket's life: empty its headers, the part that weighs.
            self.request.headers.clear()
            del self.request
            del self.response

    async def _accept(self, accept: bytes, message: Any) -> None:
        """Answer a taken-over request with 101, as uvicorn's accept does."""
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        self.opening = None
        if self.handshake_complete or self.initial_response is not None:
            # Past the handshake: uvicorn says what is wrong with an accept now.
            await super().send(message)
            return
        if not self.transport.is_closing():
            self.handshake_complete = True
            self.conn.state = State.OPEN
            self.transport.write(ws_handshake.switching(accept, self.default_headers, message))
            self.start_keepalive()


def websocket_options(settings: Settings) -> dict[str, Any]:
    """Uvicorn options for room sockets: this protocol, the frame size limit, no compression
    (per-message deflate triples the cost of a delivery and would make frames per-socket)."""
    return {
        "http": PacedHttpProtocol,
        "ws": RoomSocketProtocol,
        "ws_max_size": settings.max_frame_bytes,
        "ws_per_message_deflate": False,
    }
