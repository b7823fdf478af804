"""Guide endpoints: the attributed orders of a guide, of a store's guides (store manager) or of
all guides (admin), as pages or CSV; a guide's summary. Sharing is `live.api.sharing`."""

import base64
import csv
import io
from typing import Any

from sqlalchemy import and_, distinct, func, or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Principal, Role
from live.commerce import order_records
from live.commerce.order_records import CANCELLED, EXPIRED, PAID, REFUND_REQUIRED, RESERVED
from live.db.models import GuideBindingRow, GuideRow, OrderRow
from live.db.unit import transaction

ORDER_STATUSES = frozenset(
    {RESERVED, PAID, EXPIRED, CANCELLED, REFUND_REQUIRED, order_records.REFUNDED}
)
#: Rows of one CSV export at most (``x-next-cursor`` names where the next one starts).
MAX_CSV_ROWS = 10_000
CSV_FIELDS = [
    "order_id",
    "guide_id",
    "session_id",
    "product_id",
    "qty",
    "amount_cents",
    "status",
    "commission_cents",
    "ts",
]
DEFAULT_PAGE = 20
MAX_PAGE = 100


def _encode_cursor(created_ms: int, order_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_ms}:{order_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, order_id = raw.split(":", 1)
        return int(created), order_id
    except ValueError:
        raise ClientError(Code.INVALID_REQUEST, "cursor is not valid") from None


def _window(request: Request, session_column: Any, time_column: Any) -> list[Any]:
    """The ``session_id``, ``from_ms`` and ``to_ms`` filters, on the given columns."""
    conditions: list[Any] = []
    session_id = request.query_params.get("session_id")
    if session_id:
        conditions.append(session_column == session_id)
    from_ms = req.query_integer(request, "from_ms", minimum=0)
    if from_ms is not None:
        conditions.append(time_column >= from_ms)
    to_ms = req.query_integer(request, "to_ms", minimum=0)
    if to_ms is not None:
        conditions.append(time_column < to_ms)
    return conditions


def _filters(request: Request, brand: str) -> list[Any]:
    """The ``session_id``, ``status``, ``from_ms`` and ``to_ms`` filters of a guide's query."""
    conditions = [OrderRow.brand == brand]
    conditions += _window(request, OrderRow.session_id, OrderRow.created_ms)
    status = request.query_params.get("status")
    if status:
        if status not in ORDER_STATUSES:
            raise ClientError(
                Code.INVALID_REQUEST, f"status is one of {', '.join(sorted(ORDER_STATUSES))}"
            )
        conditions.append(OrderRow.status == status)
    return conditions


async def _scope(request: Request, caller: Principal) -> list[Any]:
    """Whose orders the caller may read: a guide its own, a store manager those of its
    store's guides (per the organisation), an admin every guide's; narrowed by ``guide_id``
    and ``store_id``."""
    guide_id = request.query_params.get("guide_id") or None
    store_id = request.query_params.get("store_id") or None
    if caller.role == Role.GUIDE:
        return [OrderRow.guide_id == caller.sub]
    conditions: list[Any] = [OrderRow.guide_id.is_not(None)]
    if caller.role == Role.MANAGER:
        if not caller.store:
            raise ClientError(Code.FORBIDDEN, "a manager token names its store (claim store)")
        if store_id is not None and store_id != caller.store:
            raise ClientError(Code.FORBIDDEN, "a manager sees the guides of its own store")
        store_id = caller.store
    if store_id is not None:
        of_store = select(GuideRow.id).where(
            GuideRow.brand == caller.brand, GuideRow.store_id == store_id
        )
        conditions.append(OrderRow.guide_id.in_(of_store))
    if guide_id is not None:
        conditions.append(OrderRow.guide_id == guide_id)
    return conditions


def _item(row: OrderRow) -> dict[str, Any]:
    return {
        "order_id": row.id,
        "guide_id": row.guide_id,
        "session_id": row.session_id,
        "product_id": row.product_id,
        "qty": row.qty,
        "amount_cents": row.amount_cents,
        "status": row.status,
        "commission_cents": row.commission_cents,
        "ts": row.created_ms,
    }


async def _page(request: Request, roles: tuple[Role, ...]) -> tuple[list[OrderRow], str | None]:
    caller = req.principal(request, *roles)
    as_csv = request.query_params.get("format") == "csv"
    largest, default = (MAX_CSV_ROWS, MAX_CSV_ROWS) if as_csv else (MAX_PAGE, DEFAULT_PAGE)
    limit = req.query_integer(request, "limit", minimum=1, maximum=largest) or default
    query = (
        select(OrderRow)
        .where(*_filters(request, caller.brand), *await _scope(request, caller))
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
    return page, _encode_cursor(page[-1].created_ms, page[-1].id) if more else None


def csv_response(
    items: list[dict[str, Any]],
    fields: list[str],
    *,
    filename: str,
    next_cursor: str | None = None,
) -> Response:
    """``items`` as a CSV attachment of ``fields`` (the guides' exports share this writer)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(items)
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    if next_cursor:
        headers["x-next-cursor"] = next_cursor
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _answer(page: list[OrderRow], next_cursor: str | None, request: Request) -> Response:
    items = [_item(row) for row in page]
    if request.query_params.get("format") != "csv":
        return JSON({"items": items, "next_cursor": next_cursor})
    return csv_response(items, CSV_FIELDS, filename="orders.csv", next_cursor=next_cursor)


async def my_orders(request: Request) -> Response:
    """``GET /api/guides/me/orders?cursor=&limit=&session_id=&status=&from_ms=&to_ms=
    [&format=csv]``: the guide's attributed orders, newest first, keyset-paginated."""
    page, next_cursor = await _page(request, (Role.GUIDE,))
    return _answer(page, next_cursor, request)


async def team_orders(request: Request) -> Response:
    """``GET /api/guides/orders?guide_id=&store_id=&...[&format=csv]``: a store manager's
    guides' orders, or (admin) every guide's of the brand."""
    page, next_cursor = await _page(request, (Role.MANAGER, Role.ADMIN))
    return _answer(page, next_cursor, request)


async def my_summary(request: Request) -> JSON:
    """``GET /api/guides/me/summary?session_id=&from_ms=&to_ms=``: the guide's orders, buyers,
    GMV and commission (earned on paid orders, reversed on refunded ones)."""
    caller = req.principal(request, Role.GUIDE)
    conditions = _filters(request, caller.brand)
    mine = OrderRow.guide_id == caller.sub
    paid = OrderRow.status == order_records.PAID
    refunded = OrderRow.status == order_records.REFUNDED
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
        brought_query = select(func.count(distinct(GuideBindingRow.viewer_id))).where(
            GuideBindingRow.brand == caller.brand,
            GuideBindingRow.guide_id == caller.sub,
            *_window(request, GuideBindingRow.session_id, GuideBindingRow.bound_ms),
        )
        brought = int(await db.scalar(brought_query) or 0)
    orders, paid_orders, buyers, gmv, earned, reversed_own = (int(v) for v in direct)
    upstream_earned, reversed_upstream = (int(v) for v in second)
    return JSON(
        {
            "guide_id": caller.sub,
            "viewers_brought": brought,
            "conversion": round(buyers / brought, 4) if brought else None,
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
    Route("/api/guides/me/orders", my_orders, methods=["GET"]),
    Route("/api/guides/me/summary", my_summary, methods=["GET"]),
    Route("/api/guides/orders", team_orders, methods=["GET"]),
]
