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

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from live.settings import Settings

#: Scope extension under which a connection's `TransportSink` is offered.
FRAME_SINK = "live.frame_sink"


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
    """Uvicorn's ``websockets-sansio`` protocol that also offers a `TransportSink`."""

    async def run_asgi(self) -> None:
        """Offer the sink in the scope, then run the app as uvicorn does."""
        extensions = self.scope.get("extensions")
        if extensions is not None:
            extensions[FRAME_SINK] = {"sink": TransportSink(self)}
        await super().run_asgi()

    async def send(self, message: Any) -> None:
        """Send as uvicorn does; once the upgrade is answered, forget its request and response
        (their headers, twice over): a room socket lives for hours and nothing reads them."""
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            del self.request
            del self.response


def websocket_options(settings: Settings) -> dict[str, Any]:
    """Uvicorn options for room sockets: this protocol, the frame size limit, no compression
    (per-message deflate triples the cost of a delivery and would make frames per-socket)."""
    return {
        "ws": RoomSocketProtocol,
        "ws_max_size": settings.max_frame_bytes,
        "ws_per_message_deflate": False,
    }
