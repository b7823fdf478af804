"""Request ids: every HTTP request and room socket gets one, answered in ``X-Request-Id``.

A caller's (or proxy's) ``X-Request-Id`` is kept when it looks like an id (1-128 characters of
letters, digits, ``.``, ``_``, ``-``; anything else could forge log lines) and a fresh one is made
otherwise. The id is in `live.platform.logs.request_id` while the request runs, so every log line it
causes carries it. One access line per request goes to the ``live.access`` logger (uvicorn's own
access log is off in ``live serve``: it runs outside the request and cannot know the id).
"""

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from live.platform import logs

log = logging.getLogger("live.access")

_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")
HEADER = b"x-request-id"


def _incoming(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER:
            candidate: str = value.decode("latin-1")
            if _VALID.fullmatch(candidate):
                return candidate
            break
    # 128 random bits as 32 hex digits, the form uuid4().hex had, at a fifth of its cost.
    return os.urandom(16).hex()


class RequestIds:
    """Pure ASGI middleware: assign or propagate the request id; log one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with its id set."""
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        rid = _incoming(scope)
        # Not reset afterwards: uvicorn runs each request in its own task (its own context), and
        # Starlette's outermost error handler, which logs unhandled errors, runs after this
        # middleware has returned: it should still see the id.
        logs.request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in {"http.response.start", "websocket.http.response.start"}:
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            elif message["type"] == "websocket.accept":
                status = 101
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500  # answered by Starlette's outermost error handler
            raise
        finally:
            log.info(
                "%s %s %d %.1fms",
                scope.get("method", "WS"),
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )
