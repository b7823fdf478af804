"""Rate limit of write requests: a token bucket per bearer token, kept by each node.

Every POST, PUT, PATCH and DELETE spends one token of its caller's bucket (``write_rate_per_s``
refill, ``write_burst`` saved up); an empty bucket answers 429 ``rate_limited`` with a
``Retry-After`` in whole seconds. Requests without a token spend from their client address's
bucket.

Why per node and in memory: the order path must not pay a Redis round trip for this, and the
limit is abuse protection, not a business rule (stock and per-viewer limits are atomic in
Redis already). With N nodes behind a round-robin balancer a caller gets at most N times the
rate. Why keyed by the token's hash rather than its verified ``sub``: verifying costs about
12 us per request on this machine (the handler verifies anyway), hashing about 1 us; a token
is one user's credential for its lifetime, and only the brand's login mints more.

Not limited: ``POST /api/payments/notify`` and WeChat Pay's callback, the payment providers'.
Refusing them would leave money taken and orders unpaid; their bodies are signature-checked
before any work is done.
"""

import hashlib
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from common.errors import ClientError, Code
from live.api.responses import error
from realtime.ratelimit import TokenBucket

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PATHS = frozenset({"/api/payments/notify", "/api/payments/wechat/notify"})
#: Buckets kept at most; idle (refilled) ones go first when the table is full.
MAX_BUCKETS = 100_000


class WriteRateLimit:
    """Pure ASGI middleware applying the write limit; buckets refill by ``clock`` (seconds,
    `time.monotonic` unless a test passes one it moves by hand)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._rate_per_s = rate_per_s
        self._burst = burst
        self._clock = clock
        self._buckets: dict[bytes, TokenBucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the request through, or answer 429."""
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or scope["path"] in EXEMPT_PATHS
        ):
            await self.app(scope, receive, send)
            return
        now = self._clock()
        bucket = self._bucket(_caller_key(scope), now)
        if bucket.take(now):
            await self.app(scope, receive, send)
            return
        retry_after_s = max(1, math.ceil(bucket.wait_s()))
        refusal = ClientError(Code.RATE_LIMITED, f"too many writes; retry in {retry_after_s} s")
        await error(refusal, headers={"Retry-After": str(retry_after_s)})(scope, receive, send)

    def _bucket(self, key: bytes, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._evict(now)
            bucket = TokenBucket(rate_per_s=self._rate_per_s, burst=self._burst, now=now)
            self._buckets[key] = bucket
        return bucket

    def _evict(self, now: float) -> None:
        idle = [key for key, bucket in self._buckets.items() if bucket.full(now)]
        for key in idle:
            del self._buckets[key]
        # Everyone active at once: forget the oldest tenth (their limit restarts full).
        for key in list(self._buckets)[: max(0, len(self._buckets) - MAX_BUCKETS * 9 // 10)]:
            del self._buckets[key]


def _caller_key(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return b"t" + hashlib.blake2b(value, digest_size=16).digest()
    client = scope.get("client")
    return b"a" + (client[0] if client else "unknown").encode()
