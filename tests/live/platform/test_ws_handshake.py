"""The opening handshake answered from the parsed request: the ordinary request is taken over
and answered as uvicorn would, with the app's headers and subprotocol; a close or a denial
before the accept is answered as before; any other request takes uvicorn's path, and websockets
refuses it as it always did. Clients are the websockets library and raw sockets on a real
uvicorn server with the node's protocols."""

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from live.platform import ws_handshake
from live.platform.ws_protocol import RoomSocketProtocol
from tests.support.asgi_server import port_of, room_protocol_server
from tests.support.units import UNIT_S

#: RFC 6455, section 1.3's example.
RFC_KEY, RFC_ACCEPT = b"dGhlIHNhbXBsZSBub25jZQ==", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
ORDINARY = [
    (b"host", b"x"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", RFC_KEY),
    (b"sec-websocket-version", b"13"),
]


def test_the_accept_key_of_an_ordinary_request() -> None:
    assert ws_handshake.accept_key("GET", ORDINARY) == RFC_ACCEPT
    assert ws_handshake.accept_key("GET", [*ORDINARY, (b"origin", b"https://a")]) == RFC_ACCEPT


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("POST", ORDINARY),
        ("GET", [h for h in ORDINARY if h[0] != b"sec-websocket-key"]),
        ("GET", [*ORDINARY, (b"sec-websocket-key", RFC_KEY)]),
        ("GET", [*ORDINARY[:3], (b"sec-websocket-key", b"c2hvcnQ="), ORDINARY[4]]),
        ("GET", [*ORDINARY[:3], (b"sec-websocket-key", b"not base64!!"), ORDINARY[4]]),
        ("GET", [*ORDINARY[:4], (b"sec-websocket-version", b"8")]),
        ("GET", [*ORDINARY, (b"sec-websocket-version", b"13")]),
        ("GET", [*ORDINARY, (b"upgrade", b"websocket")]),
        ("GET", [*ORDINARY, (b"origin", b"https://a"), (b"origin", b"https://b")]),
    ],
    ids=[
        "post",
        "no key",
        "two keys",
        "short key",
        "key not base64",
        "version 8",
        "two versions",
        "two upgrades",
        "two origins",
    ],
)
def test_anything_else_is_left_to_websockets(
    method: str, headers: list[tuple[bytes, bytes]]
) -> None:
    assert ws_handshake.accept_key(method, headers) is None


def test_the_target_as_the_scope_has_it() -> None:
    assert ws_handshake.target(b"/ws/a%20b?token=x&y=1", "") == (
        "/ws/a b",
        b"/ws/a%20b",
        b"token=x&y=1",
    )
    assert ws_handshake.target(b"/ws", "/live") == ("/live/ws", b"/live/ws", b"")
    assert ws_handshake.target("/ws/é".encode(), "") is None


def test_the_response_carries_defaults_app_headers_and_the_subprotocol() -> None:
    response = ws_handshake.switching(
        RFC_ACCEPT,
        [(b"date", b"today"), (b"server", b"uvicorn")],
        {"type": "websocket.accept", "headers": [(b"X-Request-Id", b"r1")], "subprotocol": "v1"},
    )
    assert response == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\ndate: today\r\nserver: uvicorn\r\n"
        b"x-request-id: r1\r\nSec-WebSocket-Protocol: v1\r\n\r\n"
    )


async def _app(
    scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
) -> None:
    """Echoes text; its path says how to answer: ``/deny`` with a 401 body, ``/close`` with a
    close before accepting, ``/scope`` with the scope it got, else an accept that picks the
    last subprotocol offered."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    if scope["path"] == "/deny":
        await send({"type": "websocket.http.response.start", "status": 401, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"no entry"})
        return
    if scope["path"] == "/close":
        await send({"type": "websocket.close", "code": 1000})
        return
    offered = scope["subprotocols"]
    await send(
        {
            "type": "websocket.accept",
            "headers": [(b"x-request-id", b"r-42")],
            "subprotocol": offered[-1] if offered else None,
        }
    )
    if scope["path"] == "/scope":
        shown = {
            k: scope[k] for k in ("path", "raw_path", "query_string", "scheme", "http_version")
        }
        await send({"type": "websocket.send", "text": repr(shown)})
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": "echo " + message["text"]})


@pytest.fixture
async def taken() -> AsyncIterator[tuple[int, list[bool]]]:
    """A real server with the node's protocols, and a record of each upgrade: True when the
    request was taken over as parsed, False when it went uvicorn's way."""
    record: list[bool] = []
    original = RoomSocketProtocol.take_over.__func__  # type: ignore[attr-defined]

    def recording(cls: type[RoomSocketProtocol], http: Any) -> RoomSocketProtocol | None:
        protocol: RoomSocketProtocol | None = original(cls, http)
        record.append(protocol is not None)
        return protocol

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(RoomSocketProtocol, "take_over", classmethod(recording))
        async with room_protocol_server(_app) as server:
            yield port_of(server), record


async def test_an_ordinary_request_is_taken_over_and_talks(taken: tuple[int, list[bool]]) -> None:
    """The websockets client checks the accept key itself; frames go both ways after it."""
    port, record = taken
    async with connect(
        f"ws://127.0.0.1:{port}/ws?x=1", subprotocols=[Subprotocol("a"), Subprotocol("b")]
    ) as socket:
        assert socket.response is not None
        headers = socket.response.headers
        assert headers["x-request-id"] == "r-42"
        assert headers["server"] == "uvicorn"
        assert "date" in headers
        assert socket.subprotocol == "b"
        await socket.send("hi")
        assert await socket.recv() == "echo hi"
    assert record == [True]


async def test_the_scope_is_the_one_uvicorn_builds(taken: tuple[int, list[bool]]) -> None:
    port, _ = taken
    async with connect(f"ws://127.0.0.1:{port}/scope?token=a%2Fb") as socket:
        shown = await socket.recv()
    assert shown == repr(
        {
            "path": "/scope",
            "raw_path": b"/scope",
            "query_string": b"token=a%2Fb",
            "scheme": "ws",
            "http_version": "1.1",
        }
    )


async def test_a_denial_and_a_close_before_accepting_are_answered_as_before(
    taken: tuple[int, list[bool]],
) -> None:
    port, record = taken
    with pytest.raises(InvalidStatus) as denied:
        await connect(f"ws://127.0.0.1:{port}/deny")
    assert denied.value.response.status_code == 401
    assert denied.value.response.body == b"no entry"
    with pytest.raises(InvalidStatus) as closed:
        await connect(f"ws://127.0.0.1:{port}/close")
    assert closed.value.response.status_code == 403
    assert record == [True, True]


async def _raw_upgrade(port: int, headers: list[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: x\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"
        )
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10 * UNIT_S)
    finally:
        writer.close()


async def test_other_requests_are_refused_by_websockets(taken: tuple[int, list[bool]]) -> None:
    """A request the fast path does not take goes uvicorn's way, refused as it always was."""
    port, record = taken
    upgrade = [b"Upgrade: websocket", b"Connection: Upgrade"]
    short_key = await _raw_upgrade(
        port, [*upgrade, b"Sec-WebSocket-Key: c2hvcnQ=", b"Sec-WebSocket-Version: 13"]
    )
    assert short_key.startswith(b"HTTP/1.1 400 ")
    old_version = await _raw_upgrade(
        port, [*upgrade, b"Sec-WebSocket-Key: " + RFC_KEY, b"Sec-WebSocket-Version: 8"]
    )
    assert old_version.startswith(b"HTTP/1.1 400 ")
    accepted = await _raw_upgrade(
        port, [*upgrade, b"Sec-WebSocket-Key: " + RFC_KEY, b"Sec-WebSocket-Version: 13"]
    )
    assert accepted.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    expected = base64.b64encode(
        hashlib.sha1(RFC_KEY + ws_handshake.GUID, usedforsecurity=False).digest()
    )
    assert b"Sec-WebSocket-Accept: " + expected + b"\r\n" in accepted
    assert record == [False, False, True]
