"""Counters of one hub for the metrics endpoint: plain integers, bumped inline (no locks: one
event loop), read when Prometheus scrapes."""

import bisect
from dataclasses import dataclass, field


class Histogram:
    """Cumulative buckets of observed values (Prometheus semantics: ``le`` upper bounds)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count ``value`` in its bucket."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count of values <= le)`` for every bound and ``+Inf``."""
        out, running = [], 0
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


#: Tick lag buckets in seconds: a tick late by more than a tick is a node out of CPU.
TICK_LAG_BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class HubStats:
    """What the hub's sockets did since the process started."""

    frames_sent: int = 0
    #: Of the frames sent, those that waited in a connection's queue for its writer task
    #: (the socket's transport was paused, or the server offers no direct writes).
    frames_queued: int = 0
    frames_skipped: int = 0
    slow_closes: int = 0
    #: Ticks held back while the app's foreground work ran (`realtime.giving_way`).
    ticks_held: int = 0
    tick_lag_s: Histogram = field(default_factory=lambda: Histogram(TICK_LAG_BOUNDS_S))
