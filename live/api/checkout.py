"""Checkout endpoints: a viewer's own orders, paying one through the node's payment provider,
the development provider's pay button, and WeChat Pay's callback."""

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.commerce import checkout
from live.commerce.payment_providers import Payer

MAX_PAGE = checkout.MAX_PAGE
NOTIFY_TIMEOUT_S = 10.0


async def my_orders(request: Request) -> JSON:
    """``GET /api/orders/mine?session_id=&status=&limit=&cursor=`` (viewer): the viewer's own
    orders, newest first, with what each bought."""
    caller = req.principal(request, Role.VIEWER)
    page = await checkout.mine(
        req.context(request),
        caller,
        session_id=request.query_params.get("session_id") or None,
        status=request.query_params.get("status") or None,
        limit=req.query_integer(request, "limit", minimum=1, maximum=MAX_PAGE),
        cursor=request.query_params.get("cursor") or None,
    )
    return JSON(page)


async def pay(request: Request) -> JSON:
    """``POST /api/orders/{order_id}/pay`` {openid?} (viewer, own reserved order): what the
    client needs to pay, from the payment provider (``pay_url`` or ``request_payment``)."""
    caller = req.principal(request, Role.VIEWER)
    body = await req.json_object(request)
    payer = Payer(openid=req.optional_text(body, "openid", max_chars=128))
    answer = await checkout.pay(
        req.context(request), caller, request.path_params["order_id"], payer
    )
    return JSON(answer)


async def dev_pay(request: Request) -> JSON:
    """``POST /api/dev/payments/{order_id}`` (viewer, own reserved order; only with
    ``LIVE_PAYMENT_PROVIDER=dev``): pay it, as the development pay page's button does, by
    sending this node the signed notification a payment backend sends."""
    caller = req.principal(request, Role.VIEWER)
    ctx = req.context(request)
    body, signature = await checkout.dev_notification(ctx, caller, request.path_params["order_id"])
    notify_url = str(request.base_url).rstrip("/") + "/api/payments/notify"
    try:
        async with httpx.AsyncClient(timeout=NOTIFY_TIMEOUT_S) as client:
            answer = await client.post(
                notify_url,
                content=body,
                headers={"X-Signature": signature, "Content-Type": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the notification was not delivered: {exc}") from exc
    return JSON(answer.json(), status_code=answer.status_code)


async def wechat_notify(request: Request) -> Response:
    """``POST /api/payments/wechat/notify``: WeChat Pay's payment callback, verified against
    its platform certificate and decrypted before the payment is recorded."""
    ctx = req.context(request)
    body = await req.raw_body(request)
    result = await checkout.wechat_callback(ctx, request.headers, body)
    # WeChat Pay reads 2xx as "received"; anything else makes it send the callback again.
    return JSON({"code": "SUCCESS", "message": "OK", **({"result": result} if result else {})})


routes = [
    Route("/api/orders/{order_id}/pay", pay, methods=["POST"]),
    Route("/api/dev/payments/{order_id}", dev_pay, methods=["POST"]),
    Route("/api/payments/wechat/notify", wechat_notify, methods=["POST"]),
]
