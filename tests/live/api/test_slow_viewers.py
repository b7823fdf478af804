"""Slow viewers: a client that stops reading is cut off with 4100, its backlog stays bounded,
and nobody else waits for it."""

import asyncio
import socket

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from common import codec
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

HARD_LIMIT = 256
EVENTS = 3_000


async def _drained_close_code(client: ClientConnection) -> int | None:
    """Read what the stalled client had buffered until the close; return the close code."""
    try:
        async with asyncio.timeout(30 * UNIT_S):
            while True:
                await client.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.fixture
async def small_backlog(server_with: ServerWith) -> LiveServer:
    """An app whose viewers may queue at most 256 frames."""
    return await server_with(backlog_soft_frames=64, backlog_hard_frames=HARD_LIMIT)


async def test_stalled_viewer_is_closed_and_others_keep_up(small_backlog: LiveServer) -> None:
    """A viewer that never reads is closed with 4100; a reading viewer gets every event in order."""
    server = small_backlog
    opened = await open_session(server)
    stalled_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A tiny receive window makes the server's writes back up after a few KiB, as on a phone
    # that went into a tunnel.
    stalled_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled_socket.connect(("127.0.0.1", server.port))
    stalled = await connect(
        server.ws_url(opened.session_id, server.token("viewer", "stalled")),
        sock=stalled_socket,
        max_size=None,
        compression=None,
        max_queue=1,
    )
    reader = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "reader")))
    await reader.wait_type("snapshot")
    hub = server.context.hub

    async def collect() -> list[int]:
        seqs: list[int] = []
        while len(seqs) < EVENTS:
            seqs.append((await reader.wait_type("pin", timeout_s=60 * UNIT_S))["seq"])
        return seqs

    collecting = asyncio.create_task(collect())
    first_seq = 0
    peak_backlog = 0
    for n in range(EVENTS):
        seq = await hub.bus.publish(
            opened.session_id, "pin", {"product_id": f"p{n}", "pad": "x" * 4000}
        )
        first_seq = first_seq or seq
        if n % 20 == 19:
            # A host drives events in bursts, not one unbroken stream: pacing the publisher
            # (the traffic under test), not waiting for anything.
            await asyncio.sleep(0.01)
        room = hub.rooms.get(opened.session_id)
        if room is not None:
            peak_backlog = max([peak_backlog, *(c.backlog for c in room.connections)])
    received = await collecting
    assert received == list(range(first_seq, first_seq + EVENTS))
    assert peak_backlog <= HARD_LIMIT
    room = hub.rooms[opened.session_id]

    async def stalled_left() -> bool:
        return [c.viewer.user_id for c in room.connections] == ["reader"]

    await eventually(stalled_left)
    close_code = await _drained_close_code(stalled)
    assert close_code in (4100, None)  # None: the server gave up on the close handshake
    await reader.close()


@pytest.fixture
async def roomy_backlog(server_with: ServerWith) -> LiveServer:
    """An app whose viewers may queue up to 4,096 frames: lagging is not enough to be cut off."""
    return await server_with(backlog_soft_frames=64, backlog_hard_frames=4096)


async def test_a_lagging_reader_gets_every_event_in_order(roomy_backlog: LiveServer) -> None:
    """A viewer that reads in bursts is written to directly while its transport takes writes and
    through its queue while the transport is paused; across those switches nothing is lost,
    duplicated or reordered."""
    server = roomy_backlog
    opened = await open_session(server)
    lagging_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lagging_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lagging_socket.connect(("127.0.0.1", server.port))
    lagging = await connect(
        server.ws_url(opened.session_id, server.token("viewer", "lagging")),
        sock=lagging_socket,
        max_size=None,
        compression=None,
        max_queue=1,
    )
    hub = server.context.hub
    events = 300

    async def read_in_bursts() -> list[int]:
        seqs: list[int] = []
        frames = 0
        while len(seqs) < events:
            frame = codec.decode(await lagging.recv())
            frames += 1
            if frame.get("type") == "pin":
                seqs.append(frame["seq"])
            if frames % 20 == 0:
                await asyncio.sleep(0.2)  # looks away from the phone
        return seqs

    async def snapshot_arrived() -> bool:
        room = hub.rooms.get(opened.session_id)
        return room is not None and len(room.connections) == 1

    await eventually(snapshot_arrived)
    # The kernel's send buffer on the server's side grows up to net.ipv4.tcp_wmem's maximum
    # (4 MiB here), nearly all this test publishes: kept small, the transport must pause.
    (server_side,) = hub.rooms[opened.session_id].connections
    server_side._sink._transport.get_extra_info("socket").setsockopt(  # type: ignore[union-attr]
        socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
    )
    reading = asyncio.create_task(read_in_bursts())
    queued_before = hub.stats.frames_queued
    sent_before = hub.stats.frames_sent
    published: list[int] = []
    for n in range(events):
        published.append(
            await hub.bus.publish(
                opened.session_id, "pin", {"product_id": f"p{n}", "pad": "x" * 16_000}
            )
        )
        if n % 10 == 9:
            # Pacing the publisher in bursts, as a host does; not waiting for anything.
            await asyncio.sleep(0.02)
    received = await asyncio.wait_for(reading, 60 * UNIT_S)
    assert received == published
    queued = hub.stats.frames_queued - queued_before
    direct = hub.stats.frames_sent - sent_before - queued
    # Both ways out were taken, so the switches between them were exercised.
    assert queued > 0
    assert direct > 0
    await lagging.close()
