"""When a failed delivery is tried again: exponential backoff with jitter, then a dead letter.

Contract: after the ``n``-th failed attempt the next one is due between half and all of
``min(max_s, base_s * 2**(n-1))`` seconds later ("equal jitter": retries of many deliveries
that failed together spread out, and the schedule stays predictable); a delivery whose next
attempt would fall more than ``give_up_s`` after its window opened is dead instead.
"""

import random as _random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Schedule:
    """The retry schedule of one node (from the ``LIVE_WEBHOOK_*`` settings)."""

    base_s: float
    max_s: float
    give_up_s: float
    random: Callable[[], float] = _random.random

    def delay_s(self, attempts: int) -> float:
        """Seconds until the next attempt after ``attempts`` failed ones (``attempts`` >= 1)."""
        ceiling = min(self.max_s, self.base_s * 2.0 ** min(attempts - 1, 62))
        jitter: float = self.random()
        return ceiling / 2 + jitter * ceiling / 2

    def next_ms(self, *, attempts: int, now_ms: int, window_ms: int) -> int | None:
        """When to try again, or None when the delivery is past its give-up time."""
        due = now_ms + round(self.delay_s(attempts) * 1000)
        if due > window_ms + round(self.give_up_s * 1000):
            return None
        return due
