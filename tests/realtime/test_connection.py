"""A connection's two ways out (direct writes and the writer task's queue) keep frame order.

The socket here is a recorder: frames written directly and frames sent by the writer task land
in one list, in the order they would reach the wire. The server-level behaviour (a real lagging
viewer over uvicorn) is in tests/live/api/test_slow_viewers.py; these cases pin down the windows
that are too narrow to hit reliably through a real transport.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from realtime import wire
from realtime.connection import Connection, Viewer
from tests.support.units import UNIT_S


class Recorder:
    """What reached the socket, with switches for flow control and for a send in progress."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.paused = False
        self.send_gate = asyncio.Event()
        self.send_gate.set()
        self.peer_gone = False
        self.on_close: list[Callable[[], object]] = []

    def write(self, encoded: bytes) -> bool:
        if self.paused:
            return False
        # Frames here are shorter than 126 bytes: a 2-byte header, then the text.
        self.frames.append(encoded[2:].decode())
        return True

    async def send_text(self, text: str) -> None:
        await self.send_gate.wait()
        if self.peer_gone:
            raise ConnectionResetError
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.frames.append(f"close {code}")
        for hook in self.on_close:
            hook()


def _connection(recorder: Recorder, *, joined: bool = True) -> Connection:
    """A connection writing to ``recorder``; ``joined`` releases it with no first frames."""
    connection = Connection(
        Viewer(user_id="u1", brand="b1", role="viewer"),
        send_text=recorder.send_text,
        close=recorder.close,
        soft_limit=64,
        hard_limit=512,
        sink=recorder,
    )
    if joined:
        connection.release([], after_seq=0)
    return connection


def _offer(connection: Connection, text: str) -> None:
    connection.offer(text, wire=wire.text_frame(text))


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_direct_writes_while_the_transport_takes_them() -> None:
    """While the transport is writable, offered frames are written at once, in order."""
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
    """A frame offered without wire bytes goes through the writer task, ahead of later ones."""
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


def _tasks_since(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Connection tasks started since ``before`` and still running (the suite's loop may run
    other tests' servers meanwhile)."""
    return {
        task
        for task in asyncio.all_tasks() - before
        if not task.done()
        and getattr(task.get_coro(), "__qualname__", "").startswith("Connection.")
    }


async def test_an_idle_viewer_holds_no_task() -> None:
    """Joined, with its first frames written and room frames going out directly, a connection
    has no writer task waiting (an idle room of thousands would hold thousands of them)."""
    before = asyncio.all_tasks()
    recorder = Recorder()
    connection = _connection(recorder, joined=False)
    connection.release(["snapshot"], after_seq=0)
    await _settle()
    _offer(connection, "f1")
    assert recorder.frames == ["snapshot", "f1"]
    assert _tasks_since(before) == set()
    await connection.stop()


async def test_a_writer_started_again_after_draining_keeps_order() -> None:
    """The writer ends once its queue drains; a later pause starts a new one, and frames still
    leave in the order offered across both ways out."""
    before = asyncio.all_tasks()
    recorder = Recorder()
    connection = _connection(recorder)
    for round_ in range(2):
        recorder.paused = True
        _offer(connection, f"q{round_}a")
        _offer(connection, f"q{round_}b")
        recorder.paused = False
        _offer(connection, f"q{round_}c")  # behind the queued ones, not past them
        await _settle()
        assert _tasks_since(before) == set()
        _offer(connection, f"d{round_}")  # drained: direct again
    assert recorder.frames == ["q0a", "q0b", "q0c", "d0", "q1a", "q1b", "q1c", "d1"]
    await connection.stop()


async def test_a_closed_connection_leaves_no_task_behind() -> None:
    """After the close went out (flushed, or at once past a stuck send), no writer task is
    left running."""
    before = asyncio.all_tasks()
    for flush in (True, False):
        recorder = Recorder()
        connection = _connection(recorder)
        recorder.paused = True
        _offer(connection, "queued")
        if not flush:
            recorder.send_gate.clear()  # the writer is stuck sending it: cancelled by the close
            await _settle()
        connection.close(4000, "bye", flush=flush)
        await _settle()
        assert recorder.frames == (["queued", "close 4000"] if flush else ["close 4000"])
        assert _tasks_since(before) == set()
        await connection.stop()


async def test_the_reader_stops_once_the_close_went_out() -> None:
    """A reader waiting for a peer that never answers the close handshake ends when the close
    is out, and the task that ran it carries on (it still has to leave the room)."""
    recorder = Recorder()
    connection = _connection(recorder)
    never = asyncio.Event()

    async def read_forever() -> None:
        await never.wait()

    async def serve() -> str:
        await connection.read_until_closed(read_forever)
        await asyncio.sleep(0)  # not cancelled any more
        return "left"

    serving = asyncio.create_task(serve())
    await _settle()
    connection.close(4000, "bye")
    assert await asyncio.wait_for(serving, 5 * UNIT_S) == "left"
    assert recorder.frames == ["close 4000"]


async def test_the_reader_stops_when_the_peer_is_gone() -> None:
    """A send that fails (the peer vanished) ends the reader too."""
    recorder = Recorder()
    connection = _connection(recorder)
    recorder.peer_gone = True
    never = asyncio.Event()
    serving = asyncio.create_task(connection.read_until_closed(never.wait))  # type: ignore[arg-type]
    await _settle()
    connection.offer("private")
    await asyncio.wait_for(serving, 5 * UNIT_S)
    assert connection.closed


async def test_cancelling_the_reader_from_outside_still_cancels_it() -> None:
    """Only the connection's own stop is swallowed: a shutdown that cancels the serving task
    while the close goes out still cancels it."""
    recorder = Recorder()
    connection = _connection(recorder)
    never = asyncio.Event()
    serving = asyncio.create_task(connection.read_until_closed(never.wait))  # type: ignore[arg-type]
    recorder.on_close.append(serving.cancel)
    await _settle()
    connection.close(4000, "bye")
    await _settle()
    assert serving.cancelled()
