"""The application: the routes, the middleware around them, one error boundary that speaks the
catalog, and a lifespan that runs the node (`live.node`) and hands its `Context` to handlers.

Handlers reach the context through ``app.state.ctx`` (`live.api.request.context`), the one
thing the app keeps in its state.
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from common.errors import OUTAGES, ClientError, Code
from live import node
from live.api import (
    archive,
    brands,
    checkout,
    clip_links,
    clip_sales,
    dev_signin,
    flash_sales,
    guides,
    health,
    host_panel,
    media,
    metrics,
    moderation,
    openapi,
    orders,
    organisation,
    pages,
    replay_socket,
    reservations,
    room,
    sessions,
    sharing,
    waitlists,
    webhooks,
    workspace,
)
from live.api.request_ids import RequestIds
from live.api.responses import error
from live.api.write_limits import WriteRateLimit
from live.platform.request_metrics import MeasureRequests, RequestMetrics
from live.platform.settings import Settings, load_settings

log = logging.getLogger(__name__)

_HTTP_CODES = {404: Code.NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED}

# Starlette tries routes in order, one regular expression each: the order path, a flash
# crowd's every request, comes first. No other route matches its paths, so every answer
# (including 404 and 405) is the same in any order.
ROUTES = [
    *orders.routes,
    *checkout.routes,
    *host_panel.routes,
    *sessions.routes,
    *flash_sales.routes,
    *waitlists.routes,
    *guides.routes,
    *workspace.routes,
    *reservations.routes,
    *sharing.routes,
    *moderation.routes,
    *brands.routes,
    *organisation.routes,
    *archive.routes,
    *clip_sales.routes,
    *clip_links.routes,
    *media.routes,
    *webhooks.routes,
    *health.routes,
    *metrics.routes,
    *openapi.routes,
    *dev_signin.routes,
    *replay_socket.routes,
    *pages.routes,
]


async def _client_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClientError)
    return error(exc)


async def _unavailable(_request: Request, exc: Exception) -> Response:
    log.warning("engine unavailable: %s", exc)
    return error(ClientError(Code.UNAVAILABLE, "a backing engine is unavailable; retry"))


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, Code.INVALID_REQUEST)
    return error(ClientError(code, str(exc.detail)))


async def _internal(_request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error(ClientError(Code.INTERNAL, "internal error"))


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the app; the node (engines, hub, loops) starts with the lifespan."""
    settings = settings or load_settings()
    request_metrics = RequestMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with node.running(settings, request_metrics) as ctx:
            app.state.ctx = ctx
            yield

    # A `ClientError` is answered with its own code, even when it is also an outage (the
    # record's `DatabaseUnavailable`): Starlette picks the handler of the nearest class.
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ClientError: _client_error,
        **dict.fromkeys(OUTAGES, _unavailable),
        HTTPException: _http_error,
        Exception: _internal,
    }
    return Starlette(
        middleware=[
            Middleware(RequestIds),
            # Room sockets leave here for their endpoint (`live.api.room.RoomSockets`).
            Middleware(room.RoomSockets),
            Middleware(MeasureRequests, metrics=request_metrics),
            Middleware(
                WriteRateLimit, rate_per_s=settings.write_rate_per_s, burst=settings.write_burst
            ),
        ],
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers=handlers,
    )
