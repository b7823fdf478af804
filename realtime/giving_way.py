"""`GivingWay`: the rooms' ticks wait while the app says its foreground work is running, for a
bounded time.

Why: a tick's frame goes to every socket of a room, about 10 us of the node's one core per
socket, so a room of 10,000 takes a tenth of a second to tick. In a flash sale the first tick
after the first orders fell on the next orders being written: their group commits, whose
replies wait for turns of the node's loop, took 30-60 ms instead of 8-15, and the third wave of
a 10,000-for-500 sale was answered in 120-200 ms (docs/benchmarks.md, "Ticks that give way to
the orders being written"). What a tick carries (stock levels, the purchase ticker, sampled
comments) coalesces while it waits and loses nothing; a buyer waiting for their order is the
one who notices.

Contract: `holds` says True while ``busy()`` says so, at most ``max_s`` from the first tick it
held; the tick after that goes out whatever ``busy()`` says, and the next wait starts afresh.
Frames that do not ride the tick (pins, private frames, answers) never wait here.
"""

from collections.abc import Callable

#: How long the ticks wait for the app's foreground work at most (seconds).
MAX_WAIT_S = 0.3


class GivingWay:
    """Whether the next tick waits for ``busy`` (never, until one is registered)."""

    def __init__(self) -> None:
        self._busy: Callable[[], bool] | None = None
        self._max_s = MAX_WAIT_S
        #: When (`time.monotonic`) the tick now waiting was first held; None: none waits.
        self._since: float | None = None

    def to(self, busy: Callable[[], bool], *, max_s: float = MAX_WAIT_S) -> None:
        """From now on the ticks wait while ``busy()``, at most ``max_s`` each time."""
        self._busy, self._max_s, self._since = busy, max_s, None

    def holds(self, now: float) -> bool:
        """Whether the tick due at ``now`` (`time.monotonic`) waits."""
        if self._busy is None or not self._busy():
            self._since = None
            return False
        if self._since is None:
            self._since = now
        if now - self._since < self._max_s:
            return True
        self._since = None
        return False
