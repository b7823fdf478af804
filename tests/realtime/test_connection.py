"""A connection's two ways out (direct writes and the writer task's queue) keep frame order.

The socket here is a recorder: frames written directly and frames sent by the writer task land
in one list, in the order they would reach the wire. The server-level behaviour (a real lagging
viewer over uvicorn) is in tests/live/test_slow_viewers.py; these cases pin down the windows
that are too narrow to hit reliably through a real transport.
"""

import asyncio

from realtime import wire
from realtime.connection import Connection, Viewer


class Recorder:
    """What reached the socket, with switches for flow control and for a send in progress."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.paused = False
        self.send_gate = asyncio.Event()
        self.send_gate.set()

    def write(self, encoded: bytes) -> bool:
        if self.paused:
            return False
        # Frames here are shorter than 126 bytes: a 2-byte header, then the text.
        self.frames.append(encoded[2:].decode())
        return True

    async def send_text(self, text: str) -> None:
        await self.send_gate.wait()
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.frames.append(f"close {code}")


def _connection(recorder: Recorder, *, joined: bool = True) -> Connection:
    """A started connection writing to ``recorder``; ``joined`` releases it with no first frames."""
    connection = Connection(
        Viewer(user_id="u1", brand="b1", role="viewer"),
        send_text=recorder.send_text,
        close=recorder.close,
        soft_limit=64,
        hard_limit=512,
        sink=recorder,
    )
    connection.start()
    if joined:
        connection.release([], after_seq=0)
    return connection


def _offer(connection: Connection, text: str) -> None:
    connection.offer(text, wire=wire.text_frame(text))


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_direct_writes_while_the_transport_takes_them() -> None:
    recorder = Recorder()
    connection = _connection(recorder)
    for n in range(3):
        _offer(connection, f"f{n}")
    # Written during `offer` itself, without waiting for any task.
    assert recorder.frames == ["f0", "f1", "f2"]
    await connection.stop()


async def test_a_frame_queued_while_paused_is_not_overtaken_after_resume() -> None:
    """Paused: f1 is queued. The transport resumes before the writer task runs: f2 must
    still wait behind f1."""
    recorder = Recorder()
    connection = _connection(recorder)
    _offer(connection, "f0")
    recorder.paused = True
    _offer(connection, "f1")
    recorder.paused = False
    _offer(connection, "f2")
    await _settle()
    assert recorder.frames == ["f0", "f1", "f2"]
    await connection.stop()


async def test_a_frame_in_the_writers_hands_is_not_overtaken() -> None:
    """The writer took f1 from the queue and is still sending it when f2 arrives: f2 must not
    be written ahead of it even though the queue is empty and the transport writable."""
    recorder = Recorder()
    connection = _connection(recorder)
    recorder.paused = True
    recorder.send_gate.clear()
    _offer(connection, "f1")
    await _settle()  # the writer now waits inside send_text with f1
    assert connection.backlog == 0
    recorder.paused = False
    _offer(connection, "f2")
    recorder.send_gate.set()
    await _settle()
    assert recorder.frames == ["f1", "f2"]
    await connection.stop()


async def test_frames_without_wire_bytes_go_through_the_writer() -> None:
    recorder = Recorder()
    connection = _connection(recorder)
    connection.offer("private")
    assert recorder.frames == []
    _offer(connection, "room")
    await _settle()
    assert recorder.frames == ["private", "room"]
    await connection.stop()


async def test_tick_frames_take_the_same_two_ways_in_order() -> None:
    """`offer_tick` writes directly only when `offer` would: never past a queued frame, never
    before a joining viewer's first frames."""
    recorder = Recorder()
    connection = _connection(recorder, joined=False)
    connection.offer_tick("t0", wire.text_frame("t0"))  # joining: held
    assert recorder.frames == []
    connection.release(["snapshot"], after_seq=0)
    connection.offer_tick("t1", wire.text_frame("t1"))  # behind the queued snapshot
    await _settle()
    connection.offer_tick("t2", wire.text_frame("t2"))  # nothing queued: direct
    assert recorder.frames == ["snapshot", "t0", "t1", "t2"]
    await connection.stop()
