"""Shoppable clips: buying a clip's product after the session ended, and per-clip stats."""

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.orders import MAX_QTY
from live.api.responses import JSON
from live.auth.tokens import Role
from live.clips import purchases, stats


async def place_clip_order(request: Request) -> JSON:
    """``POST /api/sessions/{id}/clips/{clip_id}/orders`` (viewer, ``Idempotency-Key``)
    {qty, share?} -> 201 the order, attributed to the guide the viewer is bound to."""
    caller = req.principal(request, Role.VIEWER)
    key = req.idempotency_key(request)
    body = await req.json_object(request)
    if body.get("coupon_id") is not None:
        raise ClientError(Code.INVALID_REQUEST, "coupons are not used on clip orders")
    order = purchases.ClipOrderRequest(
        qty=req.integer(body, "qty", minimum=1, maximum=MAX_QTY),
        idempotency_key=key,
        share=req.optional_text(body, "share", max_chars=2000),
    )
    placed = await purchases.place(
        req.context(request),
        caller,
        request.path_params["session_id"],
        request.path_params["clip_id"],
        order,
    )
    return JSON(placed, status_code=201)


async def clip_stats_of(request: Request) -> JSON:
    """``GET /api/sessions/{id}/clips/{clip_id}/stats`` (host, admin, manager, guide):
    views, orders, purchases, units and GMV of one clip of the caller's brand."""
    caller = req.principal(request, Role.HOST, Role.ADMIN, Role.MANAGER, Role.GUIDE)
    ctx = req.context(request)
    _, clip = await purchases.sellable_clip(
        ctx, caller, request.path_params["session_id"], request.path_params["clip_id"]
    )
    figures = await stats.of_clips(ctx, [clip.id])
    return JSON(stats.view(clip, figures[clip.id]))


routes = [
    Route("/api/sessions/{session_id}/clips/{clip_id}/orders", place_clip_order, methods=["POST"]),
    Route("/api/sessions/{session_id}/clips/{clip_id}/stats", clip_stats_of, methods=["GET"]),
]
