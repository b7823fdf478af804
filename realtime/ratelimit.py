"""A token bucket: ``rate_per_s`` tokens a second, at most ``burst`` saved up."""

import time


class TokenBucket:
    """Per-sender rate limit; `take` answers whether one more action is allowed now."""

    def __init__(self, *, rate_per_s: float, burst: int, now: float | None = None) -> None:
        """A full bucket at ``now`` (`time.monotonic` when None, as in `take` and `full`)."""
        self._rate_per_s = rate_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic() if now is None else now

    def take(self, now: float | None = None) -> bool:
        """Spend one token if there is one."""
        now = time.monotonic() if now is None else now
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate_per_s)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until the next token is there (0 when one is there now)."""
        missing = 1.0 - self._tokens
        return max(0.0, missing / self._rate_per_s)

    def full(self, now: float | None = None) -> bool:
        """True when the bucket has refilled to ``burst`` (its owner has been quiet)."""
        now = time.monotonic() if now is None else now
        return self._tokens + (now - self._updated) * self._rate_per_s >= self._burst
