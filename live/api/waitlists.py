"""Waitlist endpoints: join, leave and read a session's waitlists; set a product's stock."""

from starlette.requests import Request
from starlette.routing import Route

from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.commerce import restocks, waitlists
from live.sessions import session_records

MAX_STOCK = 10_000_000


async def join(request: Request) -> JSON:
    """``POST /api/sessions/{id}/waitlist`` {product_id} (viewer) -> 201 the viewer's place."""
    caller = req.principal(request, Role.VIEWER)
    body = await req.json_object(request)
    product_id = req.text(body, "product_id", max_chars=64)
    session_id = request.path_params["session_id"]
    place = await waitlists.join(req.context(request), caller, session_id, product_id)
    return JSON(place, status_code=201)


async def leave(request: Request) -> JSON:
    """``DELETE /api/sessions/{id}/waitlist/{product_id}`` (viewer): leave, or decline."""
    caller = req.principal(request, Role.VIEWER)
    params = request.path_params
    left = await waitlists.leave(
        req.context(request), caller, params["session_id"], params["product_id"]
    )
    return JSON(left)


async def read(request: Request) -> JSON:
    """``GET /api/sessions/{id}/waitlist``: lengths (host, admin), the guide's customers
    (guide), the viewer's own places and offers (viewer)."""
    caller = req.principal(request, Role.HOST, Role.ADMIN, Role.GUIDE, Role.VIEWER)
    session_id = request.path_params["session_id"]
    return JSON(await waitlists.read(req.context(request), caller, session_id))


async def set_stock(request: Request) -> JSON:
    """``PUT /api/sessions/{id}/products/{product_id}/stock`` {stock} (host, admin)."""
    caller = req.principal(request, Role.HOST, Role.ADMIN)
    body = await req.json_object(request)
    stock = req.integer(body, "stock", minimum=0, maximum=MAX_STOCK)
    params = request.path_params
    row = await restocks.set_stock(
        req.context(request), caller, params["session_id"], params["product_id"], stock
    )
    return JSON(session_records.product_view(row))


routes = [
    Route("/api/sessions/{session_id}/waitlist", join, methods=["POST"]),
    Route("/api/sessions/{session_id}/waitlist", read, methods=["GET"]),
    Route("/api/sessions/{session_id}/waitlist/{product_id}", leave, methods=["DELETE"]),
    Route("/api/sessions/{session_id}/products/{product_id}/stock", set_stock, methods=["PUT"]),
]
