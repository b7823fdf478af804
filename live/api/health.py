"""Operations endpoints: ``/healthz`` (engines answer) and ``/metrics`` (Prometheus text)."""

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from live.api import request as req
from live.api.responses import JSON
from live.db.engine import ping


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


async def metrics(request: Request) -> PlainTextResponse:
    """Gauges of this node in the Prometheus text format."""
    hub = req.context(request).hub
    watch = getattr(request.app.state, "stock_watch", None)
    connections = sum(len(room.connections) for room in hub.rooms.values())
    skipped = sum(c.skipped for room in hub.rooms.values() for c in room.connections)
    lines = [
        "# HELP live_rooms Rooms with at least one socket on this node.",
        "# TYPE live_rooms gauge",
        f"live_rooms {len(hub.rooms)}",
        "# HELP live_room_sockets Room sockets open on this node.",
        "# TYPE live_room_sockets gauge",
        f"live_room_sockets {connections}",
        "# HELP live_ephemeral_frames_skipped Frames skipped for slow viewers now connected.",
        "# TYPE live_ephemeral_frames_skipped gauge",
        f"live_ephemeral_frames_skipped {skipped}",
        "# HELP live_stock_invariant_broken Products whose Redis stock + held + sold differs from"
        " their allocation at the last periodic check.",
        "# TYPE live_stock_invariant_broken gauge",
        f"live_stock_invariant_broken {watch.inconsistent if watch else 0}",
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
