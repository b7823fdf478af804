"""CPU cost of the three ASGI middlewares (request ids, request metrics, write limit) per request.

Calls the middleware stack in process around a trivial ASGI app that answers 201, 30,000 times,
best of 5, with the ``live.access`` line off and then on (JSON formatter, to /dev/null):

    .venv/bin/python -m loadtests.middleware_overhead
"""

import asyncio
import logging
import time
from pathlib import Path

from starlette.types import Message, Receive, Scope, Send

from live.api.request_ids import RequestIds
from live.api.write_limits import WriteRateLimit
from live.platform.logs import JsonFormatter
from live.platform.request_metrics import MeasureRequests, RequestMetrics

CALLS = 30_000
HEADERS = [(b"authorization", b"Bearer " + b"x" * 180)]


async def _bare(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> Message:
    return {"type": "http.request", "body": b""}


async def _discard(_message: Message) -> None:
    return None


async def _per_call_us(app: object) -> float:
    call = app  # an ASGI callable
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(CALLS):
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/api/sessions/ses_1/orders",
                "headers": HEADERS,
                "client": ("127.0.0.1", 1),
            }
            await call(scope, _receive, _discard)  # type: ignore[operator]
        best = min(best, (time.perf_counter() - started) / CALLS * 1e6)
    return best


async def _measure(root: logging.Logger) -> tuple[float, float, float]:
    stack = RequestIds(
        MeasureRequests(
            WriteRateLimit(_bare, rate_per_s=1e9, burst=10**9), metrics=RequestMetrics()
        )
    )
    root.setLevel(logging.WARNING)
    bare = await _per_call_us(_bare)
    quiet = await _per_call_us(stack)
    root.setLevel(logging.INFO)
    return bare, quiet, await _per_call_us(stack)


def main() -> None:
    """Print the three figures."""
    with Path("/dev/null").open("w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        root.addHandler(handler)
        bare, quiet, loud = asyncio.run(_measure(root))
    print(
        f"bare app {bare:.1f} us/request; with the middlewares {quiet:.1f} us "
        f"(access log off), {loud:.1f} us (access log on, JSON)"
    )


if __name__ == "__main__":
    main()
