"""Order endpoints: place (with ``Idempotency-Key``), read, cancel, and the payment notification."""

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import checkout
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.commerce import checkout as commerce_checkout
from live.commerce import holds, offers, orders, payments
from live.db.models import OrderRow, ProductRow
from live.db.unit import transaction

MAX_QTY = 100


async def place_order(request: Request) -> JSON:
    """``POST /api/sessions/{id}/orders`` -> 201 {order_id, status: reserved, ...}."""
    caller = req.principal(request, Role.VIEWER)
    key = req.idempotency_key(request)
    body = await req.json_object(request)
    order = orders.OrderRequest(
        product_id=req.text(body, "product_id", max_chars=64),
        qty=req.integer(body, "qty", minimum=1, maximum=MAX_QTY),
        coupon_id=req.optional_text(body, "coupon_id", max_chars=64),
        idempotency_key=key,
        offer_id=req.optional_text(body, "offer_id", max_chars=64),
    )
    session_id = request.path_params["session_id"]
    placed = await offers.purchase(req.context(request), caller, session_id, order)
    return JSON(placed, status_code=201)


async def get_order(request: Request) -> JSON:
    """``GET /api/orders/{id}``: the buyer's own order (or any order of the brand for admins);
    ``GET /api/orders/mine``: the viewer's own orders (`live.api.checkout.my_orders`)."""
    if request.path_params["order_id"] == "mine":
        # One route for both: "mine" is no order id, and a second route would shadow this one.
        return await checkout.my_orders(request)
    caller = req.principal(request, Role.VIEWER, Role.ADMIN)
    async with transaction(req.context(request).db) as db:
        row = await db.get(OrderRow, request.path_params["order_id"])
        product = await db.get(ProductRow, row.product_id) if row is not None else None
    visible = row is not None and row.brand == caller.brand
    if visible and caller.role == Role.VIEWER:
        visible = row is not None and row.viewer_id == caller.sub
    if row is None or not visible:
        raise ClientError(Code.NOT_FOUND, "no such order")
    return JSON(commerce_checkout.bought_view(row, product))


async def cancel_order(request: Request) -> JSON:
    """``POST /api/orders/{id}/cancel``: the buyer, or a host or admin of the brand."""
    caller = req.principal(request, Role.VIEWER, Role.HOST, Role.ADMIN)
    order_id = request.path_params["order_id"]
    return JSON(await holds.cancel(req.context(request), caller, order_id))


async def refund_order(request: Request) -> JSON:
    """``POST /api/orders/{id}/refund`` {restock?} (admin): a paid order refunded through the
    provider that took the money, its commission reversed; ``restock`` (not shipped) puts its
    units back into stock."""
    caller = req.principal(request, Role.ADMIN)
    body = await req.json_object(request)
    restock = body.get("restock", False)
    if not isinstance(restock, bool):
        raise ClientError(Code.INVALID_REQUEST, "restock must be true or false")
    ctx = req.context(request)
    order_id = request.path_params["order_id"]
    return JSON(await commerce_checkout.refund(ctx, caller, order_id, restock=restock))


async def payment_notify(request: Request) -> JSON:
    """``POST /api/payments/notify``, signed with ``X-Signature`` (hex HMAC-SHA256)."""
    ctx = req.context(request)
    body = await req.raw_body(request)
    payments.check_signature(ctx.settings.payment_secret, body, request.headers.get("x-signature"))
    fields = req.parse_object(body)
    result = await payments.notify(
        ctx,
        order_id=req.text(fields, "order_id", max_chars=64),
        paid_amount_cents=req.integer(fields, "paid_amount_cents", minimum=0),
        provider_txn_id=req.text(fields, "provider_txn_id", max_chars=128),
    )
    return JSON(result)


routes = [
    Route("/api/sessions/{session_id}/orders", place_order, methods=["POST"]),
    Route("/api/orders/{order_id}", get_order, methods=["GET"]),
    Route("/api/orders/{order_id}/cancel", cancel_order, methods=["POST"]),
    Route("/api/orders/{order_id}/refund", refund_order, methods=["POST"]),
    Route("/api/payments/notify", payment_notify, methods=["POST"]),
]
