"""Garbage collection for a process that holds thousands of long-lived sockets.

CPython 3.11's cyclic collector stops the world, and a full (generation 2) pass walks every
tracked object: about 250 per connected viewer. Under a 1,000 comments/s flood the young
objects that survive push full passes every few seconds; with 2,000 viewers each took
200-400 ms and the p99 of every traffic class was 0.9-2.7 s; with 10,000 they take seconds
(docs/benchmarks.md, "Room load").

What survives a second is nearly always a viewer's socket machinery, which lives as long as the
viewer. `gc.freeze()` once a second moves everything tracked into a generation the collector
skips (a constant-time list splice), so collections only walk what is younger than a second.
Reference counting still frees a frozen object the moment nothing refers to it; what freezing
postpones is reclaiming *cycles* among frozen objects (a departed viewer's task and protocol
references). A sweep unfreezes and collects once: one pause in proportion to the heap, instead
of pauses at random several times a minute.

A sweep of a node holding 10,000 idle viewers pauses it 1.1-1.6 s and finds a few hundred to a
few thousand dead objects, so sweeping on a fixed schedule would stall every viewer for nothing
most of the time. CPython's own rule for its full passes is to wait until the long-lived objects
grew by a fraction; here the growth that counts is per connected socket: objects that came with
viewers who are still connected are not garbage, and a join storm of 10,000 viewers then
triggers no sweep (with the plain rule it did, right after the storm: 1.6 s). A sweep runs when
the frozen objects per socket (beyond what start-up froze) grew by ``sweep_growth`` (a half by
default) since the last sweep: a steady room is never paused, viewers who left cycles behind
raise the figure until it sweeps, and a node whose room emptied sweeps what they left. The
figure is checked every ``sweep_every_s`` (counting the frozen objects walks them, a few
milliseconds for 10,000 viewers).

In a join storm a second is too long to wait: a thousand viewers join in it, each leaving its
objects young, and the young generations' collections walk them again and again until the
freeze (the collector took a tenth of a join's CPU in a 10,000-viewer storm). The policy looks
at the open sockets every `LOOK_EVERY_S` and freezes at once when `FREEZE_AFTER_JOINS` more
are open than at the last freeze. A quiet room is frozen once a second as before, so the
young garbage caught in a freeze (and left to the next sweep) stays what it was.
"""

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from common import loops

log = logging.getLogger(__name__)

#: Sockets opened since the last freeze that bring the next one forward.
FREEZE_AFTER_JOINS = 100
#: How often the policy looks at the count of open sockets.
LOOK_EVERY_S = 0.1


def sweep() -> tuple[int, float]:
    """Unfreeze, collect every generation, freeze what is left: ``(collected, seconds)``."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    return collected, time.perf_counter() - started


class CollectorPolicy:
    """Freezes survivors at each `check`; sweeps when the frozen objects per socket grew.

    Every ``sweep_every_s`` of ``clock`` (0: never; cycles among long-lived objects then wait
    for a restart) a check sweeps if the frozen objects per socket (``sockets()``, those open
    now) grew by ``sweep_growth`` since the last sweep or the first look (0: sweep at every
    such check).
    """

    def __init__(
        self,
        *,
        sweep_every_s: float,
        sweep_growth: float,
        sockets: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic,
        freeze_after_joins: int = FREEZE_AFTER_JOINS,
    ) -> None:
        self._sweep_every_s = sweep_every_s
        self._growth = sweep_growth
        self._sockets = sockets
        self._clock = clock
        gc.freeze()  # what start-up built: modules, the app, the engines' clients
        self._base = gc.get_freeze_count()
        self._last_look = clock()
        self._swept: float | None = None  # objects per socket after the last sweep
        self._freeze_after_joins = freeze_after_joins
        self._sockets_frozen = sockets()  # open sockets at the last freeze

    def look(self) -> bool:
        """Freeze now if ``freeze_after_joins`` sockets more are open than at the last freeze
        (a join storm); True if it froze."""
        open_now = self._sockets()
        if open_now - self._sockets_frozen < self._freeze_after_joins:
            # Viewers leaving lower the mark: the next joins are counted from here.
            self._sockets_frozen = min(self._sockets_frozen, open_now)
            return False
        self._freeze()
        return True

    def _freeze(self) -> None:
        gc.freeze()
        self._sockets_frozen = self._sockets()

    def check(self) -> bool:
        """Freeze what survived since the last check; sweep if due and grown. True if swept."""
        self._freeze()
        if self._sweep_every_s <= 0 or self._clock() - self._last_look < self._sweep_every_s:
            return False
        self._last_look = self._clock()
        frozen, open_sockets = gc.get_freeze_count(), self._sockets()
        per_socket = max(0, frozen - self._base) / (open_sockets + 1)
        grown = self._swept is not None and per_socket > self._swept * (1 + self._growth)
        if self._growth > 0 and not grown:
            log.debug("gc: %.0f frozen objects per socket: no sweep", per_socket)
            if self._swept is None:
                self._swept = per_socket  # the first look: what the node holds is the reference
            return False
        collected, took = sweep()
        after = gc.get_freeze_count()
        self._swept = max(0, after - self._base) / (open_sockets + 1)
        log.info(
            "gc sweep: %d objects collected in %.0f ms (%d frozen before, %d after, %d sockets)",
            collected,
            took * 1000,
            frozen,
            after,
            open_sockets,
        )
        return True


async def run(policy: CollectorPolicy, *, freeze_every_s: float, stopping: asyncio.Event) -> None:
    """Check ``policy`` every ``freeze_every_s`` and look between checks (every `LOOK_EVERY_S`)
    until ``stopping`` is set."""
    look_every_s = min(LOOK_EVERY_S, freeze_every_s)
    checked = time.monotonic()

    async def look_or_check() -> None:
        nonlocal checked
        if time.monotonic() - checked >= freeze_every_s - look_every_s / 2:
            checked = time.monotonic()
            policy.check()
        else:
            policy.look()

    await loops.forever(
        look_or_check, every_s=look_every_s, doing="collector policy", log=log, stopping=stopping
    )
