"""Pacing joins: a node lets a bounded number of room sockets join at once, queues a bounded
number more, and refuses the rest with a hint of when to come back.

Why: a session's start (the brand's push: "we're live!"), a node's restart and a flash sale
bring thousands of joins within seconds. Each join is a handful of awaits (token, session,
snapshot, subscription); thousands in flight at once interleave with the host's requests and
the room's fan-out on the same event loop, and every one of them waits for all the others.
Paced, a join waits its turn before it starts, the host's actions and the durable events are
served between a few joins at a time, and a node that cannot take more says so at once
(`JoinGate.saturated` feeds ``/readyz``, so a load balancer sends new joins elsewhere).

Contract: at most ``concurrency`` joins hold a `Ticket` at a time; at most ``queue`` more wait
for one, in arrival order; a join arriving to a full queue is refused at once (`enter` returns
None) and told `JoinGate.refusal_hint_ms`: when its turn would come, at the pace joins
finished lately, never less than ``retry_min_ms``. Each refusal is told a turn after those
told before it, so the refused of one storm come back spread over the time the node needs to
take them, not together (a node restart sends a whole node's viewers at once; with one hint
for all, they came back as a second storm, and a third). A ticket is released once, however
often `Ticket.release` is called. ``queue`` 0 refuses every join that cannot start at once.
"""

import asyncio
import time
from collections import deque

#: Weight of the newest join in the measured join time (an exponential moving average).
_SMOOTHING = 0.05
#: Weight of the newest gap between two joins finishing: joins finish in bunches (a loop turn
#: ends several), so the gaps are noisy and their mean is taken over a hundred or so.
_TURN_SMOOTHING = 0.01
#: The longest retry hint: past it, a client is better off trying another node anyway.
MAX_RETRY_MS = 30_000


class Ticket:
    """A join's turn; `release` it once the viewer has its first frames."""

    __slots__ = ("_gate", "_started", "released")

    def __init__(self, gate: "JoinGate") -> None:
        self._gate = gate
        self._started = time.monotonic()
        self.released = False

    def release(self) -> None:
        """End the join's turn (idempotent)."""
        if not self.released:
            self.released = True
            self._gate._done(time.monotonic() - self._started)


class JoinGate:
    """Joins of one node: ``concurrency`` at a time, ``queue`` waiting."""

    def __init__(self, *, concurrency: int, queue: int, retry_min_ms: int) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError("concurrency must be at least 1 and queue at least 0")
        self.concurrency = concurrency
        self.queue = queue
        self.retry_min_ms = retry_min_ms
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        #: Seconds a join took lately (smoothed): the pace guessed before `turn_s` is measured.
        self.join_s = 0.002
        #: Seconds between two joins finishing while others waited (smoothed): the pace at which
        #: the queue drains, whatever else the node does meanwhile; None until measured.
        self.turn_s: float | None = None
        self.refused = 0
        self._last_done: float | None = None
        self._queued_at_last_done = False
        #: When the turns already promised to refused joins run out (`time.monotonic`).
        self._promised_until = 0.0

    @property
    def waiting(self) -> int:
        """Joins waiting for a turn now."""
        return len(self._waiters)

    @property
    def saturated(self) -> bool:
        """True when half the queue is taken: new joins are better sent to another node."""
        return self.waiting > 0 and self.waiting * 2 >= max(1, self.queue)

    def full(self, *, arriving: int = 0) -> bool:
        """True when a join arriving after ``arriving`` more would find the queue full (never
        with ``queue`` 0, where a join that cannot start at once is refused by design)."""
        return self.queue > 0 and self.waiting + arriving >= self.queue

    def refusal_hint_ms(self) -> int:
        """The retry hint of a join refused now, which books its turn: after the queued joins
        and after every turn promised to the joins refused before it."""
        now = time.monotonic()
        turn_s = self.turn_s if self.turn_s is not None else self.join_s / self.concurrency
        start = max(now + (self.waiting + 1) * turn_s, self._promised_until)
        # Past the longest hint a turn is no promise: the refused are told that, and try later.
        self._promised_until = min(start + turn_s, now + MAX_RETRY_MS / 1000)
        return int(min(MAX_RETRY_MS, max(self.retry_min_ms, (start - now) * 1000)))

    async def enter(self) -> Ticket | None:
        """Wait for a turn; None when the queue is full (the join is refused)."""
        if self.active < self.concurrency and not self._waiters:
            self.active += 1
            return Ticket(self)
        if len(self._waiters) >= self.queue:
            self.refused += 1
            return None
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._done(None)  # the turn was handed over as the waiter went: pass it on
            else:
                self._waiters.remove(waiter)
            raise
        return Ticket(self)

    def _done(self, took_s: float | None) -> None:
        if took_s is not None:
            self.join_s += _SMOOTHING * (took_s - self.join_s)
            now = time.monotonic()
            if self._queued_at_last_done and self._last_done is not None:
                # Joins waited all along since the last one finished: a gap of pure service.
                gap = now - self._last_done
                turn = self.turn_s
                self.turn_s = gap if turn is None else turn + _TURN_SMOOTHING * (gap - turn)
            self._last_done = now
            self._queued_at_last_done = bool(self._waiters)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the turn passes to it: `active` stays the same
                return
        self.active -= 1
