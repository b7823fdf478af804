"""A client that sends slowly (a frame trickled byte by byte, an HTTP request likewise) holds
only its own connection: bystanders are answered meanwhile, and the trickled frame is served
when it is complete."""

import asyncio
import itertools

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession
from tests.support.units import UNIT_S

TRICKLE_S = 0.05


async def _answers_while(bystander: Room, task: "asyncio.Task[object]") -> int:
    """Pings the bystander answered before ``task`` finished."""
    answered = 0
    for n in itertools.count():
        if task.done():
            return answered
        ref = f"b{n}"
        await bystander.send({"type": "ping", "ref": ref})
        await bystander.wait_for(lambda frame: frame.get("ref") == ref)  # noqa: B023 - awaited now
        answered += 0 if task.done() else 1
    return answered


async def _trickled_ping(url: str) -> list[Frame]:
    """Open a room socket over raw TCP, send one ping a byte at a time, read to its pong."""
    uri = parse_uri(url)
    protocol = ClientProtocol(uri, max_size=None)
    reader, writer = await asyncio.open_connection(uri.host, uri.port)
    try:
        protocol.send_request(protocol.connect())
        writer.write(b"".join(protocol.data_to_send()))
        async with asyncio.timeout(10 * UNIT_S):
            while protocol.state is State.CONNECTING:
                protocol.receive_data(await reader.read(65_536))
        protocol.send_text(orjson.dumps({"type": "ping", "ref": "slow"}))
        frame = b"".join(protocol.data_to_send())
        for byte in frame:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(TRICKLE_S)  # the behaviour under test: a slow sender
        frames: list[Frame] = []
        async with asyncio.timeout(10 * UNIT_S):
            while not any(b'"slow"' in f.data for f in frames):
                protocol.receive_data(await reader.read(65_536))
                frames += [e for e in protocol.events_received() if isinstance(e, Frame)]
        return frames
    finally:
        writer.close()


async def test_a_trickled_frame_stalls_nobody_else(server: LiveServer, opened: OpenSession) -> None:
    """While one client trickles a frame over about two seconds, a bystander is answered again
    and again, then the trickled ping gets its pong."""
    bystander = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "b")))
    await bystander.wait_type("snapshot")
    slow = asyncio.create_task(
        _trickled_ping(server.ws_url(opened.session_id, server.token("viewer", "slow")))
    )
    answered = await _answers_while(bystander, slow)
    frames = await slow
    assert any(b'"pong"' in frame.data and b'"slow"' in frame.data for frame in frames)
    assert answered >= 3
    await bystander.close()


async def test_a_trickled_http_request_stalls_nobody_else(server: LiveServer) -> None:
    """An HTTP request sent a byte at a time is answered in the end; others meanwhile."""

    async def trickle() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(TRICKLE_S)  # the behaviour under test: a slow sender
        answer = await reader.read()
        writer.close()
        return answer

    slow = asyncio.create_task(trickle())
    answered = 0
    async with server.client() as client:
        while not slow.done():
            assert (await client.get("/healthz")).status_code == 200
            answered += 0 if slow.done() else 1
    assert (await slow).startswith(b"HTTP/1.1 200")
    assert answered >= 3
