"""Flash sale endpoints: open a sale on a product, close it."""

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.commerce import flash_sales, order_records
from live.platform.clock import now_ms

HOSTS = (Role.HOST, Role.ADMIN)
MAX_WINDOW_S = 86_400


async def open_sale(request: Request) -> JSON:
    """``POST /api/sessions/{id}/sales`` -> 201 {sale_id, ...}."""
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    now = now_ms()
    starts_at = req.optional_integer(body, "starts_at", minimum=0)
    starts_in_s = req.optional_integer(body, "starts_in_s", minimum=0, maximum=MAX_WINDOW_S)
    if starts_at is not None and starts_in_s is not None:
        raise ClientError(Code.INVALID_REQUEST, "send starts_at or starts_in_s, not both")
    starts = starts_at if starts_at is not None else now + (starts_in_s or 0) * 1000
    ends_at = req.optional_integer(body, "ends_at", minimum=0)
    duration_s = req.optional_integer(body, "duration_s", minimum=1, maximum=MAX_WINDOW_S)
    if (ends_at is None) == (duration_s is None):
        raise ClientError(Code.INVALID_REQUEST, "send exactly one of ends_at or duration_s")
    ends = ends_at if ends_at is not None else starts + (duration_s or 0) * 1000
    if ends <= max(starts, now):
        raise ClientError(Code.INVALID_REQUEST, "the sale must end after it starts and after now")
    fields = {
        "product_id": req.text(body, "product_id", max_chars=64),
        "sale_price_cents": req.integer(body, "sale_price_cents", minimum=0),
        "stock_cap": req.integer(body, "stock_cap", minimum=1, maximum=10_000_000),
        "per_viewer_limit": req.optional_integer(body, "per_viewer_limit", minimum=1),
        "starts_ms": starts,
        "ends_ms": ends,
    }
    ctx = req.context(request)
    row = await flash_sales.open_sale(ctx, caller, request.path_params["session_id"], fields)
    return JSON(order_records.sale_view(row), status_code=201)


async def close_sale(request: Request) -> JSON:
    """``POST /api/sessions/{id}/sales/{sale_id}/close``."""
    caller = req.principal(request, *HOSTS)
    ctx = req.context(request)
    row = await flash_sales.close_sale(
        ctx, caller, request.path_params["session_id"], request.path_params["sale_id"]
    )
    return JSON(order_records.sale_view(row))


routes = [
    Route("/api/sessions/{session_id}/sales", open_sale, methods=["POST"]),
    Route("/api/sessions/{session_id}/sales/{sale_id}/close", close_sale, methods=["POST"]),
]
