"""Counting HTTP answers by status, and timing order admission, for ``/metrics``.

Pure ASGI middleware: two clock reads and a dict increment per request, no I/O. Order
admission (``POST /api/sessions/{id}/orders``: reserve in Redis, then the order row) is the
latency the flash sale lives by, so it gets its own histogram.
"""

import time
from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from realtime.stats import Histogram

ORDER_BOUNDS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RequestMetrics:
    """Answers by HTTP status, and the order admission histogram, since start."""

    def __init__(self) -> None:
        self.responses: Counter[int] = Counter()
        self.order_seconds = Histogram(ORDER_BOUNDS_S)


def _is_order(scope: Scope) -> bool:
    path: str = scope["path"]
    return (
        scope["method"] == "POST" and path.startswith("/api/sessions/") and path.endswith("/orders")
    )


class MeasureRequests:
    """Pure ASGI middleware feeding a `RequestMetrics`."""

    def __init__(self, app: ASGIApp, *, metrics: RequestMetrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve, then count the answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app dies before answering

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            self._metrics.responses[status] += 1
            if _is_order(scope):
                self._metrics.order_seconds.observe(time.perf_counter() - started)
