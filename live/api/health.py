"""Operations endpoints: ``/healthz`` (engines answer), ``/readyz`` (this node may take traffic)
and ``/metrics`` (Prometheus text)."""

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from live.api import request as req
from live.api.responses import JSON
from live.context import Context
from live.db.engine import ping
from live.platform import readiness
from realtime.hub import Hub
from realtime.stats import Histogram


async def healthz(request: Request) -> JSON:
    """200 when the database and Redis answer, 503 naming the one that does not."""
    ctx = req.context(request)
    checks = {"database": "ok", "redis": "ok"}
    try:
        await ping(ctx.engine)
    except (SQLAlchemyError, OSError) as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        await ctx.redis.ping()
    except (RedisError, OSError) as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSON(body, status_code=200 if healthy else 503)


async def readyz(request: Request) -> JSON:
    """200 when the node may take traffic (`live.platform.readiness`), else 503 with checks."""
    ctx = req.context(request)
    checks = await readiness.check(
        ctx.engine, ctx.redis, draining=ctx.draining.is_set(), joins=ctx.joins
    )
    ok = readiness.ready(checks)
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    return JSON(body, status_code=200 if ok else 503)


def _metric(name: str, kind: str, help_text: str, value: float | int) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]


def _histogram(name: str, help_text: str, histogram: Histogram) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    lines += [f'{name}_bucket{{le="{le}"}} {count}' for le, count in histogram.cumulative()]
    lines += [f"{name}_sum {histogram.total}", f"{name}_count {histogram.count}"]
    return lines


def _hub_lines(hub: Hub) -> list[str]:
    skipped_now = sum(c.skipped for room in hub.rooms.values() for c in room.connections)
    return [
        *_metric(
            "live_rooms", "gauge", "Rooms with at least one socket on this node.", len(hub.rooms)
        ),
        *_metric("live_room_sockets", "gauge", "Room sockets open on this node.", hub.sockets),
        *_metric(
            "live_ephemeral_frames_skipped",
            "gauge",
            "Frames skipped for slow viewers now connected.",
            skipped_now,
        ),
        *_metric(
            "live_frames_sent_total",
            "counter",
            "Frames written to room sockets.",
            hub.stats.frames_sent,
        ),
        *_metric(
            "live_frames_queued_total",
            "counter",
            "Of the frames sent, those that waited for the socket's writer task (paused peer).",
            hub.stats.frames_queued,
        ),
        *_metric(
            "live_frames_dropped_total",
            "counter",
            "Ephemeral frames skipped for viewers above the soft backlog limit.",
            hub.stats.frames_skipped,
        ),
        *_metric(
            "live_slow_viewers_closed_total",
            "counter",
            "Viewers closed with 4100 above the hard backlog limit.",
            hub.stats.slow_closes,
        ),
        *_histogram(
            "live_tick_lag_seconds",
            "How late each room tick ran after its due time.",
            hub.stats.tick_lag_s,
        ),
    ]


def _node_lines(ctx: Context) -> list[str]:
    answered, joins = ctx.request_metrics, ctx.joins
    return [
        *_histogram(
            "live_order_admission_seconds",
            "Time to answer POST /api/sessions/{id}/orders (reserve in Redis, order row).",
            answered.order_seconds,
        ),
        *_metric(
            "live_archive_lag_events",
            "gauge",
            "Events numbered but not yet in the archive store, in sessions this node archives,"
            " at each session's last completed pass.",
            sum(ctx.archiver.lag_events.values()),
        ),
        *_metric(
            "live_joins_waiting", "gauge", "Room sockets waiting for a turn to join.", joins.waiting
        ),
        *_metric("live_joins_active", "gauge", "Room sockets joining now.", joins.active),
        *_metric(
            "live_joins_refused_total",
            "counter",
            "Joins refused with busy (4103) because the join queue was full.",
            joins.refused,
        ),
        *_metric(
            "live_stock_invariant_broken",
            "gauge",
            "Products whose Redis stock + held + sold differs from their allocation at the last"
            " periodic check.",
            ctx.stock_watch.inconsistent,
        ),
        "# HELP live_http_responses_total HTTP answers by status.",
        "# TYPE live_http_responses_total counter",
        *(
            f'live_http_responses_total{{status="{status}"}} {count}'
            for status, count in sorted(answered.responses.items())
        ),
    ]


async def metrics(request: Request) -> PlainTextResponse:
    """This node's gauges, counters and histograms in the Prometheus text format."""
    ctx = req.context(request)
    lines = [*_hub_lines(ctx.hub), *_node_lines(ctx)]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
