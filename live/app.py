"""The application: a Starlette router with a lifespan that opens the engines and starts the
hub, the archiver and the hold reaper, and one error boundary that speaks the catalog."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisClusterException, RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from inventory.coupons import CouponCounters
from inventory.errors import InventoryUnavailable
from inventory.stock import Stock
from live import (
    attribution,
    clip_orders,
    coupons,
    draws,
    gc_policy,
    holds,
    invariant,
    loops,
    recovery,
    replays,
)
from live import sales as sale_windows
from live.api import (
    archive,
    brands,
    clip_sales,
    dev_signin,
    guides,
    health,
    host_panel,
    moderation,
    openapi,
    orders,
    organisation,
    pages,
    replay_socket,
    room,
    sales,
    sessions,
)
from live.api.request_ids import RequestIds
from live.api.request_metrics import MeasureRequests, RequestMetrics
from live.api.responses import error
from live.api.write_limits import WriteRateLimit
from live.brand_policies import BrandPolicies
from live.context import Context
from live.db.engine import session_factory
from live.engines import open_engines
from live.order_writer import OrderWriter
from live.settings import Settings, load_settings
from live.terms import TermsCache
from realtime import keys as realtime_keys
from realtime.bus import BusUnavailable
from realtime.errors import ClientError, Code
from realtime.hub import Hub
from realtime.socket_caps import SocketCaps
from replay.archiver import Archiver

log = logging.getLogger(__name__)

_HTTP_CODES = {404: Code.NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED}


def streams_of(session_id: str) -> Mapping[str, str]:
    """The archived streams of a session, by kind."""
    return {
        "events": realtime_keys.events_stream(session_id),
        "comments": realtime_keys.comments_stream(session_id),
    }


def counters_of(session_id: str) -> Mapping[str, str]:
    """The counters that number each archived stream of a session."""
    return {
        "events": realtime_keys.events_seq(session_id),
        "comments": realtime_keys.comments_seq(session_id),
    }


def _hub(settings: Settings, redis: Redis) -> Hub:
    return Hub(
        redis,
        node_id=settings.node_id,
        tick_ms=settings.tick_ms,
        comments_per_tick=settings.comments_per_tick,
        max_frame_bytes=settings.max_frame_bytes,
        comment_max_chars=settings.comment_max_chars,
        comment_rate_per_s=settings.comment_rate_per_s,
        comment_burst=settings.comment_burst,
        backlog_soft_frames=settings.backlog_soft_frames,
        backlog_hard_frames=settings.backlog_hard_frames,
    )


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
    """Build the app; engines open when the lifespan starts."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engines = await open_engines(settings)
        hub = _hub(settings, engines.redis)
        db = session_factory(engines.engine)
        ctx = Context(
            settings=settings,
            engine=engines.engine,
            db=db,
            redis=engines.redis,
            hub=hub,
            stock=Stock(engines.redis, idempotency_ttl_s=settings.idempotency_ttl_s),
            coupons=CouponCounters(engines.redis),
            store=engines.store,
            policies=BrandPolicies(db),
            attribution=attribution.Policies(
                db, default=attribution.Policy(window_s=settings.attribution_window_s)
            ),
            terms=TermsCache(engines.redis, db),
            writer=OrderWriter(db),
            sockets=SocketCaps(
                per_ip=settings.max_sockets_per_ip, per_user=settings.max_sockets_per_user
            ),
        )
        hub.on_claim(coupons.claim_handler(ctx))
        hub.on_comment(draws.entry_listener(ctx))
        hub.filter_comments(ctx.policies.comment_filter())
        archiver = Archiver(
            engines.redis,
            engines.store,
            streams_for=streams_of,
            counters_for=counters_of,
            node_id=settings.node_id,
            segment_events=settings.archive_segment_events,
            segment_ms=settings.archive_segment_ms,
            retry_max_s=settings.archive_retry_max_s,
            spool_dir=settings.data_dir / "spool",
            retain_entries=settings.archive_retain_events,
            on_archived=lambda session_id: loops.spawn(replays.prepare(ctx, session_id)),
        )
        await hub.start()
        app.state.stock_watch = invariant.Watch()
        archiving = asyncio.create_task(archiver.run(), name="archiver")
        collector = asyncio.create_task(
            gc_policy.run(
                freeze_every_s=settings.gc_freeze_s,
                sweep_every_s=settings.gc_sweep_s,
                sweep_growth=settings.gc_sweep_growth,
                sockets=lambda: hub.sockets,
            ),
            name="gc-policy",
        )
        passes = [
            asyncio.create_task(holds.run(ctx), name="hold-reaper"),
            asyncio.create_task(clip_orders.run(ctx), name="clip-order-reaper"),
            asyncio.create_task(sale_windows.run(ctx), name="sale-closer"),
            asyncio.create_task(recovery.run(ctx), name="redis-recovery"),
            asyncio.create_task(app.state.stock_watch.run(ctx), name="stock-invariant"),
        ]
        app.state.ctx = ctx
        app.state.archiver = archiver
        app.state.draining = False
        try:
            yield
        finally:
            # The archiver ends its current pass (writes in flight land) and releases its
            # leases, so another node takes the sessions over without waiting for expiry.
            archiver.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(archiving), settings.shutdown_drain_s)
            # The collector policy holds nothing: it stops at once. A loop cancelled inside a
            # transaction would leave the pool's rollback to a cancelled task: each is asked
            # to end after its pass, and cancelled only if that takes longer than the drain.
            archiving.cancel()
            collector.cancel()
            await loops.stop(passes, ctx.stopping, wait_s=settings.shutdown_drain_s)
            await asyncio.gather(archiving, collector, return_exceptions=True)
            await hub.stop()
            await engines.aclose()

    request_metrics = RequestMetrics()
    app = Starlette(
        middleware=[
            Middleware(RequestIds),
            Middleware(MeasureRequests, metrics=request_metrics),
            Middleware(
                WriteRateLimit, rate_per_s=settings.write_rate_per_s, burst=settings.write_burst
            ),
        ],
        # Starlette tries routes in order, one regular expression each: the order path, a
        # flash crowd's every request, comes first. No other route matches its paths, so
        # every answer (including 404 and 405) is the same in any order.
        routes=[
            *orders.routes,
            *host_panel.routes,
            *sessions.routes,
            *sales.routes,
            *guides.routes,
            *moderation.routes,
            *brands.routes,
            *organisation.routes,
            *archive.routes,
            *clip_sales.routes,
            *health.routes,
            *openapi.routes,
            *room.routes,
            *dev_signin.routes,
            *replay_socket.routes,
            *pages.routes,
        ],
        lifespan=lifespan,
        exception_handlers={
            ClientError: _client_error,
            InventoryUnavailable: _unavailable,
            BusUnavailable: _unavailable,
            # A Redis error no module translated, and the cluster client's own errors (not
            # RedisError subclasses, e.g. no node reachable): an engine outage all the same.
            RedisError: _unavailable,
            RedisClusterException: _unavailable,
            HTTPException: _http_error,
            Exception: _internal,
        },
    )
    app.state.request_metrics = request_metrics
    return app
