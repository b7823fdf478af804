"""What the host panel reads besides the contract's endpoints: the brand's sessions, and one
session's figures (orders, orders per minute, GMV, conversion, stock bars)."""

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.db.unit import transaction
from live.platform.clock import now_ms
from live.sessions import figures, session_records

STATUSES = frozenset(
    {
        session_records.DRAFT,
        session_records.SCHEDULED,
        session_records.LIVE,
        session_records.ENDED,
    }
)


async def list_sessions(request: Request) -> JSON:
    """``GET /api/sessions?status=&limit=`` (host, admin, guide): the brand's, newest first."""
    caller = req.principal(request, Role.HOST, Role.ADMIN, Role.GUIDE)
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ClientError(Code.INVALID_REQUEST, "status must be draft, scheduled, live or ended")
    limit = req.query_integer(request, "limit", minimum=1, maximum=session_records.MAX_LISTED)
    async with transaction(req.context(request).db) as db:
        rows = await session_records.of_brand(
            db, caller.brand, status=status, limit=limit or session_records.MAX_LISTED
        )
    items = [
        {
            "id": row.id,
            "title": row.title,
            "status": row.status,
            "host_id": row.host_id,
            "pinned_product_id": row.pinned_product_id,
            "created_at": row.created_ms,
            "starts_at": row.starts_ms,
            "cover_url": row.cover_url,
            "started_at": row.started_ms,
            "ended_at": row.ended_ms,
        }
        for row in rows
    ]
    return JSON({"items": items})


async def stats(request: Request) -> JSON:
    """``GET /api/sessions/{id}/stats`` (host, admin): the session's live figures."""
    caller = req.principal(request, Role.HOST, Role.ADMIN)
    session_id = request.path_params["session_id"]
    ctx = req.context(request)
    async with transaction(ctx.db) as db:
        await session_records.load(db, caller.brand, session_id)
        products = await session_records.products_of(db, session_id)
        orders = await figures.orders_of(db, session_id, now_ms=now_ms())
    try:
        room = await figures.room_of(ctx.redis, session_id)
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "the room's figures are unavailable") from exc
    levels = await ctx.stock.levels(session_id)
    return JSON(
        {
            "session_id": session_id,
            **orders,
            **room,
            "conversion": figures.conversion(orders["buyers"], room["viewers_seen"]),
            "stock": figures.stock_bars(products, levels),
        }
    )


routes = [
    Route("/api/sessions", list_sessions, methods=["GET"]),
    Route("/api/sessions/{session_id}/stats", stats, methods=["GET"]),
]
