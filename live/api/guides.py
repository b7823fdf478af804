"""Guide endpoints: a share code for a session, and the guide's attributed orders."""

import base64
import time
from typing import Any

import segno
from sqlalchemy import and_, distinct, func, or_, select
from starlette.requests import Request
from starlette.routing import Route

from live import commission, sessions, share_codes
from live.api import request as req
from live.api.responses import JSON
from live.auth import Role
from live.db.models import OrderRow
from live.db.unit import transaction
from live.orders import CANCELLED, EXPIRED, PAID, REFUND_REQUIRED, RESERVED
from realtime.errors import ClientError, Code

ORDER_STATUSES = frozenset(
    {RESERVED, PAID, EXPIRED, CANCELLED, REFUND_REQUIRED, commission.REFUNDED}
)
DEFAULT_PAGE = 20
MAX_PAGE = 100


def _share_url(request: Request, session_id: str, code: str) -> str:
    base = f"{request.url.scheme}://{request.url.netloc}"
    return f"{base}/watch/{session_id}?share={code}"


async def share(request: Request) -> JSON:
    """``GET /api/guides/me/share?session_id=`` -> {code, url, qr_svg}."""
    caller = req.principal(request, Role.GUIDE)
    session_id = request.query_params.get("session_id", "")
    if not session_id:
        raise ClientError(Code.INVALID_REQUEST, "session_id is required")
    ctx = req.context(request)
    async with transaction(ctx.db) as db:
        await sessions.load(db, caller.brand, session_id)
    code = share_codes.issue(
        ctx.settings.secret,
        share_codes.ShareCode(
            guide_id=caller.sub,
            brand=caller.brand,
            session_id=session_id,
            store=caller.store,
            expires_s=int(time.time()) + ctx.settings.share_code_ttl_s,
        ),
    )
    url = _share_url(request, session_id, code)
    qr_svg = segno.make(url, error="m").svg_inline(scale=4)
    return JSON({"code": code, "url": url, "qr_svg": qr_svg, "session_id": session_id})


def _encode_cursor(created_ms: int, order_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_ms}:{order_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, order_id = raw.split(":", 1)
        return int(created), order_id
    except ValueError:
        raise ClientError(Code.INVALID_REQUEST, "cursor is not valid") from None


def _filters(request: Request, brand: str) -> list[Any]:
    """The ``session_id``, ``status``, ``from_ms`` and ``to_ms`` filters of a guide's query."""
    conditions: list[Any] = [OrderRow.brand == brand]
    session_id = request.query_params.get("session_id")
    if session_id:
        conditions.append(OrderRow.session_id == session_id)
    status = request.query_params.get("status")
    if status:
        if status not in ORDER_STATUSES:
            raise ClientError(
                Code.INVALID_REQUEST, f"status is one of {', '.join(sorted(ORDER_STATUSES))}"
            )
        conditions.append(OrderRow.status == status)
    from_ms = req.query_integer(request, "from_ms", minimum=0)
    if from_ms is not None:
        conditions.append(OrderRow.created_ms >= from_ms)
    to_ms = req.query_integer(request, "to_ms", minimum=0)
    if to_ms is not None:
        conditions.append(OrderRow.created_ms < to_ms)
    return conditions


async def my_orders(request: Request) -> JSON:
    """``GET /api/guides/me/orders?cursor=&limit=&session_id=&status=&from_ms=&to_ms=``:
    the guide's attributed orders, newest first, keyset-paginated."""
    caller = req.principal(request, Role.GUIDE)
    limit = req.query_integer(request, "limit", minimum=1, maximum=MAX_PAGE) or DEFAULT_PAGE
    query = (
        select(OrderRow)
        .where(OrderRow.guide_id == caller.sub, *_filters(request, caller.brand))
        .order_by(OrderRow.created_ms.desc(), OrderRow.id.desc())
        .limit(limit + 1)
    )
    cursor = request.query_params.get("cursor")
    if cursor:
        created, order_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                OrderRow.created_ms < created,
                and_(OrderRow.created_ms == created, OrderRow.id < order_id),
            )
        )
    async with transaction(req.context(request).db) as db:
        rows = list(await db.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    items = [
        {
            "order_id": row.id,
            "session_id": row.session_id,
            "product_id": row.product_id,
            "qty": row.qty,
            "amount_cents": row.amount_cents,
            "status": row.status,
            "commission_cents": row.commission_cents,
            "ts": row.created_ms,
        }
        for row in page
    ]
    next_cursor = _encode_cursor(page[-1].created_ms, page[-1].id) if more else None
    return JSON({"items": items, "next_cursor": next_cursor})


async def my_summary(request: Request) -> JSON:
    """``GET /api/guides/me/summary?session_id=&from_ms=&to_ms=``: the guide's orders, buyers,
    GMV and commission (earned on paid orders, reversed on refunded ones)."""
    caller = req.principal(request, Role.GUIDE)
    conditions = _filters(request, caller.brand)
    mine = OrderRow.guide_id == caller.sub
    paid = OrderRow.status == commission.PAID
    refunded = OrderRow.status == commission.REFUNDED
    as_upstream = OrderRow.upstream_guide_id == caller.sub
    own = func.coalesce(OrderRow.commission_cents, 0)
    upstream = func.coalesce(OrderRow.upstream_commission_cents, 0)
    async with transaction(req.context(request).db) as db:
        direct = (
            await db.execute(
                select(
                    func.count(),
                    func.count().filter(paid),
                    func.count(distinct(OrderRow.viewer_id)).filter(paid),
                    func.coalesce(func.sum(OrderRow.amount_cents).filter(paid), 0),
                    func.coalesce(func.sum(own).filter(paid), 0),
                    func.coalesce(func.sum(own).filter(refunded), 0),
                ).where(mine, *conditions)
            )
        ).one()
        second = (
            await db.execute(
                select(
                    func.coalesce(func.sum(upstream).filter(paid), 0),
                    func.coalesce(func.sum(upstream).filter(refunded), 0),
                ).where(as_upstream, *conditions)
            )
        ).one()
    orders, paid_orders, buyers, gmv, earned, reversed_own = (int(v) for v in direct)
    upstream_earned, reversed_upstream = (int(v) for v in second)
    return JSON(
        {
            "guide_id": caller.sub,
            "orders": orders,
            "paid_orders": paid_orders,
            "buyers": buyers,
            "gmv_cents": gmv,
            "commission_cents": earned,
            "upstream_commission_cents": upstream_earned,
            "reversed_commission_cents": reversed_own + reversed_upstream,
        }
    )


routes = [
    Route("/api/guides/me/share", share, methods=["GET"]),
    Route("/api/guides/me/orders", my_orders, methods=["GET"]),
    Route("/api/guides/me/summary", my_summary, methods=["GET"]),
]
