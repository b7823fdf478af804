"""Operations endpoints: ``/healthz`` (engines answer) and ``/readyz`` (this node may take
traffic); ``/metrics`` is `live.api.metrics`."""

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.routing import Route

from live.api import request as req
from live.api.responses import JSON
from live.db.engine import ping
from live.platform import readiness


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


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
