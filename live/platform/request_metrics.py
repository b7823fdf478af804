"""Measuring HTTP answers for ``/metrics``: answers by status, latency per route class, and
order admission.

Pure ASGI middleware: two clock reads and two metric updates per request, no I/O. Order
admission (``POST /api/sessions/{id}/orders``: reserve in Redis, then the order row) is the
latency the flash sale lives by, so it keeps its own histogram beside the route classes.
"""

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ORDER_BOUNDS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REQUEST_BOUNDS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
#: Route classes of ``live_http_request_duration_seconds`` (a label value each).
ROUTE_CLASSES = ("order", "payment", "write", "read", "page", "operations")
_OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


class RequestMetrics:
    """The HTTP metrics of one node, in ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.responses = Counter(
            "live_http_responses", "HTTP answers by status.", ["status"], registry=self.registry
        )
        self.order_seconds = Histogram(
            "live_order_admission_seconds",
            "Time to answer POST /api/sessions/{id}/orders (reserve in Redis, order row).",
            buckets=ORDER_BOUNDS_S,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "live_http_request_duration_seconds",
            "Time to answer an HTTP request, by route class.",
            ["route_class"],
            buckets=REQUEST_BOUNDS_S,
            registry=self.registry,
        )
        # Children made once: a label lookup per request would cost more than the observe.
        self._classes = {name: self.request_seconds.labels(name) for name in ROUTE_CLASSES}
        self._statuses: dict[int, Counter] = {}

    def count(self, status: int) -> None:
        """Count one answer of ``status``."""
        child = self._statuses.get(status)
        if child is None:
            child = self._statuses[status] = self.responses.labels(str(status))
        child.inc()

    def observe(self, scope: Scope, seconds: float) -> None:
        """Time one request in its route class (and in order admission)."""
        kind = route_class(scope)
        self._classes[kind].observe(seconds)
        if kind == "order":
            self.order_seconds.observe(seconds)


def route_class(scope: Scope) -> str:
    """The route class of a request: order, payment, write, read, page or operations."""
    path: str = scope["path"]
    method: str = scope["method"]
    if path.startswith("/api/"):
        if method == "POST" and path.startswith("/api/sessions/") and path.endswith("/orders"):
            return "order"
        if path == "/api/payments/notify":
            return "payment"
        return "read" if method in {"GET", "HEAD"} else "write"
    return "operations" if path in _OPERATIONS else "page"


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
            self._metrics.count(status)
            self._metrics.observe(scope, time.perf_counter() - started)
