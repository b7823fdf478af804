"""A frame for the whole room goes out a slice of sockets at a time: the loop serves others
between slices, every socket gets the room's frames in the order their fan-outs started, and a
viewer who leaves during a fan-out gets nothing more of it. A room's ticks take at most their
share of the time (`TICK_SHARE`): a room slow to write to waits longer between ticks, its
frames coalescing meanwhile.

The sockets are recorders (what reached each socket, in order); the loop is the real one.
"""

import asyncio
import time

from redis.asyncio import Redis

from realtime.bus import EventBus
from realtime.connection import Connection, Viewer
from realtime.room import FAN_OUT_SLICE, TICK_SHARE, Room


class Recorder:
    """The frames written to one socket (short frames: a 2-byte header, then the text)."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    def write(self, encoded: bytes) -> bool:
        self.frames.append(encoded[2:].decode())
        return True

    async def send_text(self, text: str) -> None:
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.frames.append(f"close {code}")


class SlowRecorder(Recorder):
    """A socket whose write takes `WRITE_S` of the loop's time, as a busy machine's does."""

    WRITE_S = 0.000_2

    def write(self, encoded: bytes) -> bool:
        time.sleep(self.WRITE_S)
        return super().write(encoded)


def _room(
    viewers: int, recorder_type: type[Recorder] = Recorder
) -> tuple[Room, list[Connection], list[Recorder]]:
    # The bus is never read here: a fan-out needs only the room's sockets.
    room = Room("ses_fan", bus=EventBus(Redis()), comments_per_tick=10, started_ms=None)
    connections, recorders = [], []
    for n in range(viewers):
        recorder = recorder_type()
        connection = Connection(
            Viewer(user_id=f"v{n}", brand="b1", role="viewer"),
            send_text=recorder.send_text,
            close=recorder.close,
            soft_limit=64,
            hard_limit=512,
            sink=recorder,
        )
        connection.release([], after_seq=0)
        room.enter(connection)
        connections.append(connection)
        recorders.append(recorder)
    return room, connections, recorders


async def test_the_loop_serves_others_before_and_between_slices() -> None:
    """A task ready when the fan-out starts (the request that published the frame, its answer
    from the bus in hand) runs before any socket is written; one ready again meanwhile runs
    after the first slice, not after the whole room."""
    room, _, recorders = _room(3 * FAN_OUT_SLICE + 1)
    reached_when_others_ran: list[int] = []

    async def other_work() -> None:
        reached_when_others_ran.append(sum(1 for r in recorders if r.frames))
        await asyncio.sleep(0)
        reached_when_others_ran.append(sum(1 for r in recorders if r.frames))

    fan_out = asyncio.create_task(room.broadcast('{"type":"pin"}', seq=1))
    other = asyncio.create_task(other_work())
    await asyncio.gather(fan_out, other)
    assert reached_when_others_ran == [0, FAN_OUT_SLICE]
    assert all(r.frames == ['{"type":"pin"}'] for r in recorders)


async def test_every_socket_gets_the_frames_in_the_order_their_fan_outs_started() -> None:
    """A durable frame and a tick that start while it is paused: every socket, the first slice
    and the last alike, gets the durable frame first."""
    room, _, recorders = _room(2 * FAN_OUT_SLICE + 10)
    room.tick.set_viewers(42)
    first = asyncio.create_task(room.broadcast('{"type":"pin","seq":1}', seq=1))
    await asyncio.sleep(0)  # the first slice is written; the fan-out pauses
    second = asyncio.create_task(room.flush_tick())
    third = asyncio.create_task(room.broadcast('{"type":"unpin","seq":2}', seq=2))
    await asyncio.gather(first, second, third)
    orders = {tuple(f.split('"')[3] for f in r.frames) for r in recorders}
    assert orders == {("pin", "viewers", "unpin")}, orders


async def test_a_viewer_who_leaves_during_a_fan_out_gets_nothing_more() -> None:
    """A socket of a later slice that leaves while the fan-out pauses is not written to."""
    room, connections, recorders = _room(2 * FAN_OUT_SLICE)
    fan_out = asyncio.create_task(room.broadcast('{"type":"pin"}', seq=1))
    await asyncio.sleep(0)  # the first slice is written; the fan-out pauses
    leaving = next(n for n, r in enumerate(recorders) if not r.frames)
    room.leave(connections[leaving])
    await fan_out
    assert recorders[leaving].frames == []
    assert sum(1 for r in recorders if r.frames) == 2 * FAN_OUT_SLICE - 1


async def test_a_room_slow_to_write_to_ticks_less_often_and_loses_nothing() -> None:
    """A tick that took ``t`` to write: the room's next ticks within ``t / TICK_SHARE`` send
    nothing, and the one after sends the newest state gathered meanwhile."""
    room, _, recorders = _room(100, SlowRecorder)
    room.tick.set_viewers(1)
    began = time.monotonic()
    await room.flush_tick()
    took = time.monotonic() - began
    assert all(r.frames == ['{"type":"viewers","count":1}'] for r in recorders)
    room.tick.set_viewers(2)
    await room.flush_tick()  # a tick of the hub right away: too soon
    room.tick.set_viewers(3)
    await room.flush_tick()
    assert all(len(r.frames) == 1 for r in recorders)
    await asyncio.sleep(took / TICK_SHARE)
    await room.flush_tick()
    assert all(r.frames[1:] == ['{"type":"viewers","count":3}'] for r in recorders)


async def test_a_room_quick_to_write_to_ticks_on_every_tick() -> None:
    room, _, recorders = _room(100)
    for count in range(1, 4):
        room.tick.set_viewers(count)
        await room.flush_tick()
        await asyncio.sleep(0.01)  # the hub's ticks are 50-200 ms apart
    assert all(len(r.frames) == 3 for r in recorders)
