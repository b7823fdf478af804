"""A room socket reads a read of whole text frames itself and leaves everything else to
websockets' parser: the app gets the same messages in the same order either way, control
frames and fragmented messages are still handled, and what the parser refuses is still refused
with its close code.

The client is a bare TCP connection that writes frames byte for byte as the test builds them
(masked with a key that is not zero), so each read the server makes is known.
"""

import asyncio
import base64
import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.speedups import apply_mask

from live.platform.ws_protocol import RoomSocketProtocol
from tests.support.asgi_server import port_of, room_protocol_server
from tests.support.units import UNIT_S

TEXT, CONT, CLOSE, PING, PONG = 0x1, 0x0, 0x8, 0x9, 0xA


def client_frame(
    payload: bytes, opcode: int = TEXT, *, fin: bool = True, mask: bool = True
) -> bytes:
    """A client frame; masked with a random key unless ``mask`` is False."""
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65_536:
        head += bytes([bit | 126]) + length.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + length.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(payload, key)


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Sends back every text message, until the peer leaves."""
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": message["text"]})


class Peer:
    """The client end: writes raw bytes, reads the server's (unmasked) frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frame(self) -> tuple[int, bytes]:
        """The next frame from the server, as ``(opcode, payload)``."""
        async with asyncio.timeout(5 * UNIT_S):
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            return first & 0x0F, await self.reader.readexactly(length)

    async def text(self) -> str:
        opcode, payload = await self.frame()
        assert opcode == TEXT, (opcode, payload)
        return payload.decode()

    async def close_code(self) -> tuple[int, list[str]]:
        """The code of the server's close, and the messages that came before it."""
        before = []
        while (frame := await self.frame())[0] != CLOSE:
            assert frame[0] == TEXT, frame
            before.append(frame[1].decode())
        return int.from_bytes(frame[1][:2], "big"), before


@asynccontextmanager
async def connected() -> AsyncIterator[tuple[Peer, RoomSocketProtocol]]:
    """A peer past the handshake with the echo app, and the server's protocol of its socket."""
    async with room_protocol_server(echo) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT_S)
        assert answer.startswith(b"HTTP/1.1 101"), answer
        (protocol,) = server.server_state.connections
        assert isinstance(protocol, RoomSocketProtocol)
        try:
            yield Peer(reader, writer), protocol
        finally:
            writer.close()


async def test_whole_text_frames_in_one_read_are_read_in_order() -> None:
    """Three messages in one write (a short one, one with a 16-bit length, one not ASCII) come
    back in order, read without the parser."""
    messages = ["buy 1", "x" * 300, "中文 库存 ✓"]
    async with connected() as (peer, protocol):
        await peer.write(b"".join(client_frame(m.encode()) for m in messages))
        assert [await peer.text() for _ in messages] == messages
        assert protocol.framed
        assert not protocol.conn.reader.buffer


async def test_a_frame_split_across_reads_goes_to_the_parser() -> None:
    """A frame written in three pieces is still one message; from then on the parser reads
    the socket, and every later message arrives."""
    async with connected() as (peer, protocol):
        frame = client_frame(b"split in three")
        for piece in (frame[:1], frame[1:7], frame[7:]):
            await peer.write(piece)
            await asyncio.sleep(0.02)
        assert await peer.text() == "split in three"
        assert not protocol.framed
        await peer.write(client_frame(b"after") + client_frame(b"and after"))
        assert [await peer.text(), await peer.text()] == ["after", "and after"]


async def test_control_frames_and_fragments_among_text_frames() -> None:
    """A ping between two messages is answered with its pong (at once, before the app's
    answers); a message in two fragments comes whole; the read after them is read at once
    again."""
    async with connected() as (peer, protocol):
        await peer.write(
            client_frame(b"one") + client_frame(b"are you there", PING) + client_frame(b"two")
        )
        assert [await peer.frame() for _ in range(3)] == [
            (PONG, b"are you there"),
            (TEXT, b"one"),
            (TEXT, b"two"),
        ]
        await peer.write(client_frame(b"fra", fin=False) + client_frame(b"gments", CONT))
        assert await peer.text() == "fragments"
        assert protocol.framed, "both reads ended where a frame ended"
        await peer.write(client_frame(b"three"))
        assert await peer.text() == "three"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(b"not masked", mask=False), 1002),
        (client_frame(b"\xff\xfe not UTF-8"), 1007),
        (bytes([0xC1, 0x80]) + b"\x00" * 4, 1002),  # an extension bit no extension set
    ],
    ids=["unmasked", "invalid-utf8", "reserved-bit"],
)
async def test_what_the_parser_refuses_is_refused_as_before(frame: bytes, code: int) -> None:
    """Alone, or after a good frame in the same read: the socket is closed with the parser's
    code (the good message may be answered first or not, as before)."""
    async with connected() as (peer, _):
        await peer.write(client_frame(b"fine"))
        assert await peer.text() == "fine"
        await peer.write(frame)
        assert (await peer.close_code())[0] == code
    async with connected() as (peer, _):
        await peer.write(client_frame(b"fine") + frame)
        closed, before = await peer.close_code()
        assert closed == code
        assert before in ([], ["fine"])


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], list[str]]:
    """Client frames cut into reads at random places: ``(reads, messages the app must get)``."""
    frames, messages = [], []
    for _ in range(draw(st.integers(1, 6))):
        text = draw(st.text(max_size=draw(st.sampled_from([20, 200]))))
        kind = draw(st.sampled_from(["whole", "fragments", "ping"]))
        if kind == "ping":
            frames.append(client_frame(b"p", PING))
        data = text.encode()
        if kind == "fragments" and len(data) > 1:
            cut = draw(st.integers(1, len(data) - 1))
            frames += [client_frame(data[:cut], fin=False), client_frame(data[cut:], CONT)]
        else:
            frames.append(client_frame(data))
        messages.append(text)
    stream = b"".join(frames)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(stream) - 1), max_size=4))))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)], messages


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_any_cut_of_any_frames_gives_the_app_every_message_in_order(
    stream: tuple[list[bytes], list[str]],
) -> None:
    """Whole frames, fragments and pings, cut into reads anywhere (each read written after a
    pause so that the server reads it alone): the app gets every message, in order."""
    reads, messages = stream

    async def run() -> list[str]:
        async with connected() as (peer, _):
            for data in reads:
                await peer.write(data)
                await asyncio.sleep(0.005)
            got: list[str] = []
            while len(got) < len(messages):
                opcode, payload = await peer.frame()
                if opcode == TEXT:
                    got.append(payload.decode())
            return got

    assert asyncio.run(run()) == messages
