"""Pacing WebSocket upgrades: at most a few room sockets start their handshake per turn of the
event loop, and none while the node's join queue is full; the others wait, reading paused, in
arrival order.

Why: a node restart or a neighbour's death sends thousands of viewers back within a second.
The event loop takes every connection the kernel has queued at once, and uvicorn used to start
every upgrade in the turn its request arrived: the WebSocket protocol, the handshake, the app's
task, thousands in one turn. The host's request, already parsed, waited for all of them, and
each of its own round trips (Redis, the record) waited for the next such turn: a pin took up
to 3.8 s during a reconnect storm (docs/benchmarks.md, "Join storms"). Here a request is still
read and parsed as it arrives (httptools, a few microseconds), so the host's HTTP requests go
on at once; only an upgrade's own work waits, and a turn holds at most `PER_TURN` of them.

While the join queue (`realtime.admission.JoinGate`) is full, an upgrade started now would only
be refused with ``busy`` and a retry hint: it waits here instead, for at most the node's
``LIVE_JOIN_HOLD_S`` and behind at most `MAX_HELD` others, then starts whatever the queue (and
is refused if it is still full: the client is told when to come back, as before). Held, a
viewer costs the node its parsed request and nothing more, where a refusal costs a handshake
now and another when it comes back; in a reconnect storm of 10,000 the refusals had been
4,369-6,430, with hints up to 14.6 s, and nobody is refused now.

Contract: upgrades start in the order their requests were parsed; a connection that closes
while it waits never starts; the budget is per event loop, whichever server a connection came
to; nothing else of the HTTP protocol changes.
"""

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Protocol

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LOG = logging.getLogger(__name__)
#: Upgrades started in one turn of the event loop at most.
PER_TURN = 32
#: Upgrades held for room in the join queue at most; past it the oldest start anyway.
MAX_HELD = 4096
#: How often held upgrades look for room in the join queue again.
HOLD_POLL_S = 0.005


class Reading(Protocol):
    """What the pacer does with a connection's transport."""

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool: ...
    def close(self) -> None: ...


class Upgrade(Protocol):
    """A connection whose request asks for a WebSocket upgrade."""

    @property
    def transport(self) -> Reading: ...
    def start_upgrade(self) -> None:
        """Start the upgrade: the WebSocket protocol takes the connection."""


class UpgradePacer:
    """Starts the upgrades of one event loop in arrival order: ``per_turn`` at most between two
    turns of its own, which run one turn of the loop apart while upgrades wait."""

    def __init__(self, *, per_turn: int = PER_TURN, max_held: int = MAX_HELD) -> None:
        self._per_turn = per_turn
        self._max_held = max_held
        self._left = per_turn
        self._waiting: deque[tuple[Upgrade, float]] = deque()
        self._scheduled = False
        self._holds: list[tuple[Callable[[], bool], float]] = []

    @property
    def waiting(self) -> int:
        """Upgrades parsed and not yet started."""
        return len(self._waiting)

    def hold_while(self, full: Callable[[], bool], *, max_hold_s: float) -> Callable[[], None]:
        """Hold each upgrade while ``full()`` says a join queue has no room, for ``max_hold_s``
        at most; returns the undo."""
        hold = (full, max_hold_s)
        self._holds.append(hold)
        return lambda: self._holds.remove(hold)

    def start_or_wait(self, connection: Upgrade) -> None:
        """Start the connection's upgrade now if this turn has room, else queue it."""
        if self._left > 0 and not self._waiting and not self._holding(0.0):
            self._left -= 1
            self._schedule()
            _start(connection, resume=False)
            return
        connection.transport.pause_reading()
        self._waiting.append((connection, time.monotonic()))
        self._schedule()

    def _holding(self, waited_s: float) -> bool:
        return any(waited_s < max_hold_s and full() for full, max_hold_s in self._holds)

    def _schedule(self, delay_s: float = 0) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        loop = asyncio.get_running_loop()
        if delay_s:
            loop.call_later(delay_s, self._next_turn)
        else:
            loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._scheduled = False
        self._left = self._per_turn
        held = False
        now = time.monotonic()
        while self._waiting and self._left > 0:
            connection, since = self._waiting[0]
            if connection.transport.is_closing():
                self._waiting.popleft()
                continue
            if len(self._waiting) <= self._max_held and self._holding(now - since):
                held = True
                break
            self._waiting.popleft()
            self._left -= 1
            _start(connection, resume=True)
        if held:
            self._schedule(HOLD_POLL_S)
        elif self._waiting or self._left < self._per_turn:
            # More to start, or a budget spent this turn that the next turn must give back.
            self._schedule()


def _start(connection: Upgrade, *, resume: bool) -> None:
    # Started from the pacer's own callback, an error would end the turn and leave the rest
    # waiting: it ends this connection only, as uvicorn ends one whose request fails.
    try:
        if resume:
            connection.transport.resume_reading()
        connection.start_upgrade()
    except Exception:
        LOG.exception("a WebSocket upgrade failed to start")
        connection.transport.close()


#: The pacer of each event loop.
_PACERS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, UpgradePacer]" = (
    weakref.WeakKeyDictionary()
)


def pacer() -> UpgradePacer:
    """The running event loop's pacer."""
    loop = asyncio.get_running_loop()
    found = _PACERS.get(loop)
    if found is None:
        found = _PACERS[loop] = UpgradePacer()
    return found


class PacedHttpProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol (its ``http`` option), with its WebSocket upgrades started
    by the event loop's `UpgradePacer`."""

    def handle_websocket_upgrade(self) -> None:
        """Queue the upgrade with the pacer instead of starting it in this turn."""
        pacer().start_or_wait(self)

    def start_upgrade(self) -> None:
        """Hand the connection to the WebSocket protocol: one that can take the parsed request
        over (`live.platform.ws_protocol.RoomSocketProtocol.take_over`) gets it so; otherwise,
        and for a request it will not take, uvicorn writes the request out for it to parse."""
        take_over = getattr(self.ws_protocol_class, "take_over", None)
        protocol = take_over(self) if take_over is not None else None
        if protocol is None:
            super().handle_websocket_upgrade()
            return
        self.connections.discard(self)
        self.transport.set_protocol(protocol)
