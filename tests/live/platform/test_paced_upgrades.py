"""WebSocket upgrades start a few per turn of the event loop, in arrival order, and wait for
room in a full join queue for a bounded time; a real server with the paced protocol still
answers HTTP requests while a crowd of upgrades waits."""

import asyncio
import time
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import ClientConnection, connect

from live.platform.paced_upgrades import UpgradePacer, pacer
from tests.support.asgi_server import port_of, room_protocol_server
from tests.support.polling import eventually
from tests.support.units import UNIT_S


@dataclass
class _Transport:
    paused: bool = False
    closing: bool = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


@dataclass
class _Upgrade:
    """A connection as the pacer sees it; records the turn its upgrade started in."""

    name: int
    started: list[tuple[int, int]]
    turn: list[int]
    transport: _Transport = field(default_factory=_Transport)

    def start_upgrade(self) -> None:
        assert not self.transport.paused, "an upgrade must start with reading on"
        self.started.append((self.turn[0], self.name))


async def _count_turns(turn: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        turn[0] += 1
        await asyncio.sleep(0)


async def test_a_crowd_starts_a_few_per_turn_in_arrival_order() -> None:
    """100 upgrades parsed in one turn: 8 start at once, the rest wait paused and start 8 a turn
    in the order they came; none starts twice."""
    pacer = UpgradePacer(per_turn=8)
    started: list[tuple[int, int]] = []
    turn = [0]
    stop = asyncio.Event()
    counting = asyncio.create_task(_count_turns(turn, stop))
    await asyncio.sleep(0)
    crowd = [_Upgrade(n, started, turn) for n in range(100)]
    for upgrade in crowd:
        pacer.start_or_wait(upgrade)
    assert [name for _, name in started] == list(range(8))
    assert all(upgrade.transport.paused for upgrade in crowd[8:])
    assert pacer.waiting == 92

    async def all_started() -> bool:
        return len(started) == 100

    await eventually(all_started, timeout_s=5 * UNIT_S)
    stop.set()
    await counting
    assert [name for _, name in started] == list(range(100))
    per_turn: dict[int, int] = {}
    for at, _ in started[8:]:
        per_turn[at] = per_turn.get(at, 0) + 1
    assert max(per_turn.values()) <= 8, per_turn
    assert len(per_turn) >= 92 // 8
    assert pacer.waiting == 0
    assert not any(upgrade.transport.paused for upgrade in crowd)


async def test_a_connection_closed_while_waiting_never_starts() -> None:
    """A viewer who gives up while its upgrade waits is skipped; the next one starts."""
    pacer = UpgradePacer(per_turn=1)
    started: list[tuple[int, int]] = []
    turn = [0]
    first, gone, last = (_Upgrade(n, started, turn) for n in range(3))
    for upgrade in (first, gone, last):
        pacer.start_or_wait(upgrade)
    gone.transport.closing = True

    async def done() -> bool:
        return pacer.waiting == 0 and len(started) == 2

    await eventually(done, timeout_s=5 * UNIT_S)
    assert [name for _, name in started] == [0, 2]


async def test_upgrades_wait_for_room_in_the_join_queue_then_start_in_order() -> None:
    """While the join queue is full nothing starts, not even the first; once it has room the
    held upgrades start in the order they came."""
    pacer = UpgradePacer(per_turn=4)
    full = True
    pacer.hold_while(lambda: full, max_hold_s=30)
    started: list[tuple[int, int]] = []
    turn = [0]
    for n in range(10):
        pacer.start_or_wait(_Upgrade(n, started, turn))
    await asyncio.sleep(0.05)
    assert started == []
    assert pacer.waiting == 10
    full = False

    async def all_started() -> bool:
        return len(started) == 10

    await eventually(all_started, timeout_s=5 * UNIT_S)
    assert [name for _, name in started] == list(range(10))


async def test_a_held_upgrade_starts_anyway_after_the_longest_hold() -> None:
    """A queue that stays full holds an upgrade for ``max_hold_s``, then lets it start (the
    join gate refuses it ``busy`` with a retry hint); undoing the hold starts the rest at once."""
    pacer = UpgradePacer(per_turn=4)
    undo = pacer.hold_while(lambda: True, max_hold_s=0.2)
    started: list[tuple[int, int]] = []
    turn = [0]
    began = time.monotonic()
    pacer.start_or_wait(_Upgrade(0, started, turn))

    async def first_started() -> bool:
        return len(started) == 1

    await eventually(first_started, timeout_s=5 * UNIT_S)
    assert time.monotonic() - began >= 0.2
    undo()
    pacer.start_or_wait(_Upgrade(1, started, turn))
    assert [name for _, name in started] == [0, 1]


async def test_past_the_most_held_the_oldest_start() -> None:
    """Holding is bounded in count too: past ``max_held`` waiting, the oldest start."""
    pacer = UpgradePacer(per_turn=4, max_held=5)
    pacer.hold_while(lambda: True, max_hold_s=30)
    started: list[tuple[int, int]] = []
    turn = [0]
    for n in range(8):
        pacer.start_or_wait(_Upgrade(n, started, turn))

    async def back_to_the_bound() -> bool:
        return pacer.waiting == 5

    await eventually(back_to_the_bound, timeout_s=5 * UNIT_S)
    assert [name for _, name in started] == [0, 1, 2]


async def test_http_requests_are_answered_while_upgrades_are_held() -> None:
    """A real server with the paced protocol: 20 upgrades held for a full join queue wait with
    their handshake unanswered while an HTTP request on the same port is answered; released,
    every one of them opens."""
    full = asyncio.Event()
    full.set()

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert callable(receive)
        assert callable(send)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        elif scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "hello"})
            await receive()

    undo = pacer().hold_while(full.is_set, max_hold_s=30)
    try:
        async with room_protocol_server(app) as server:
            port = port_of(server)

            async def open_socket() -> ClientConnection:
                return await connect(f"ws://127.0.0.1:{port}/", open_timeout=30 * UNIT_S)

            opening = [asyncio.create_task(open_socket()) for _ in range(20)]

            async def all_held() -> bool:
                return pacer().waiting == 20

            await eventually(all_held, timeout_s=10 * UNIT_S)
            async with httpx.AsyncClient() as http:
                answer = await http.get(f"http://127.0.0.1:{port}/")
            assert answer.text == "ok"
            assert not any(task.done() for task in opening)
            full.clear()
            sockets = await asyncio.wait_for(asyncio.gather(*opening), 10 * UNIT_S)
            for socket in sockets:
                assert await socket.recv() == "hello"
                await socket.close()
    finally:
        undo()
