"""`Backoff`: capped exponential retry delays, tracked per key (a session id)."""

import time


class Backoff:
    """After n consecutive failures of a key, wait ``min(initial_s * 2**(n-1), max_s)``."""

    def __init__(self, *, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._delay_s: dict[str, float] = {}
        self._until: dict[str, float] = {}

    def ready(self, key: str) -> bool:
        """True when `key` may be tried now."""
        return time.monotonic() >= self._until.get(key, 0.0)

    def failed(self, key: str) -> float:
        """Record a failure of `key`; returns the delay before its next try, in seconds."""
        previous = self._delay_s.get(key)
        delay = self.initial_s if previous is None else min(previous * 2, self.max_s)
        self._delay_s[key] = delay
        self._until[key] = time.monotonic() + delay
        return delay

    def succeeded(self, key: str) -> None:
        """Forget the failures of `key`."""
        self._delay_s.pop(key, None)
        self._until.pop(key, None)
