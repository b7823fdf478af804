"""Session endpoints: create, read, products, start, end, pin, coupons."""

from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.routing import Route

from common import codec
from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.commerce import coupons, order_records
from live.db.unit import transaction
from live.guides import commission, leaderboard, organisation
from live.platform.clock import now_ms
from live.sessions import images, lifecycle, session_records

HOSTS = (Role.HOST, Role.ADMIN)
#: Options that tell variants apart: at most this many, short names and values.
MAX_OPTIONS = 4
MAX_OPTION_NAME_CHARS = 20
MAX_OPTION_VALUE_CHARS = 40


def ws_url(request: Request, session_id: str) -> str:
    """Where viewers connect for this session."""
    base = req.context(request).settings.public_ws_url
    if base is None:
        scheme = "wss" if request.url.scheme == "https" else "ws"
        base = f"{scheme}://{request.url.netloc}"
    return f"{base.rstrip('/')}/ws/sessions/{session_id}"


async def _session_body(request: Request, session_id: str, brand: str) -> dict[str, Any]:
    ctx = req.context(request)
    async with transaction(ctx.db) as db:
        row = await session_records.load(db, brand, session_id)
        products = await session_records.products_of(db, session_id)
        sales = await order_records.open_sales(db, session_id)
    levels = await ctx.stock.levels(session_id)
    return session_records.view(row, products, levels, ws_url(request, session_id), sales)


async def create_session(request: Request) -> JSON:
    """``POST /api/sessions`` {title, starts_at?, cover_url?} -> 201 (``scheduled`` with a
    start time, else ``draft``)."""
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    cover = body.get("cover_url")
    row = await lifecycle.create(
        req.context(request),
        caller,
        req.text(body, "title"),
        starts_ms=_starts_at(body),
        cover_url=images.check_url(cover, "cover_url") if cover is not None else None,
    )
    return JSON(await _session_body(request, row.id, caller.brand), status_code=201)


def _starts_at(body: dict[str, Any]) -> int | None:
    """The ``starts_at`` of a scheduled session (Unix ms, in the future), or None."""
    starts_ms = req.optional_integer(body, "starts_at", minimum=0)
    if starts_ms is not None and starts_ms <= now_ms():
        raise ClientError(Code.INVALID_REQUEST, "starts_at must be in the future")
    return starts_ms


async def get_session(request: Request) -> JSON:
    """``GET /api/sessions/{id}`` (any role of the brand)."""
    caller = req.principal(request)
    return JSON(await _session_body(request, request.path_params["session_id"], caller.brand))


async def add_product(request: Request) -> JSON:
    """``POST /api/sessions/{id}/products`` -> 201 {product_id, ...}."""
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    fields = {
        "sku": req.text(body, "sku", max_chars=64),
        "title": req.text(body, "title"),
        "price_cents": req.integer(body, "price_cents", minimum=0),
        "stock": req.integer(body, "stock", minimum=0, maximum=10_000_000),
        "limit_per_viewer": req.optional_integer(body, "limit_per_viewer", minimum=1),
        "commission_bp": req.optional_integer(
            body, "commission_bp", minimum=0, maximum=commission.BASIS_POINTS
        ),
        "image_url": (
            images.check_url(body["image_url"], "image_url")
            if body.get("image_url") is not None
            else None
        ),
        "options": _options(body),
    }
    variant_of = req.optional_text(body, "variant_of", max_chars=64)
    session_id = request.path_params["session_id"]
    row = await lifecycle.add_product(
        req.context(request), caller, session_id, fields, variant_of=variant_of
    )
    return JSON(session_records.product_view(row), status_code=201)


def _options(body: dict[str, Any]) -> str | None:
    """The ``options`` of a variant (``{"size": "M"}``) as stored JSON, or None."""
    options = body.get("options")
    if options is None:
        return None
    if not isinstance(options, dict) or len(options) > MAX_OPTIONS:
        raise ClientError(
            Code.INVALID_REQUEST, f"options must be an object of at most {MAX_OPTIONS} entries"
        )
    cleaned = {}
    for name, value in options.items():
        entry = {"name": name, "value": value}
        cleaned[req.text(entry, "name", max_chars=MAX_OPTION_NAME_CHARS)] = req.text(
            entry, "value", max_chars=MAX_OPTION_VALUE_CHARS
        )
    return codec.encode_text(cleaned) if cleaned else None


async def edit_product(request: Request) -> JSON:
    """``PATCH /api/sessions/{id}/products/{product_id}`` {price_cents?, image_url?} (host,
    admin): a new price, a new image, or both."""
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    if body.get("price_cents") is None and body.get("image_url") is None:
        raise ClientError(Code.INVALID_REQUEST, "send price_cents, image_url or both")
    ctx = req.context(request)
    session_id, product_id = request.path_params["session_id"], request.path_params["product_id"]
    if body.get("image_url") is not None:
        image_url = images.check_url(body["image_url"], "image_url")
        row = await images.set_product_image(ctx, caller, session_id, product_id, image_url)
    if body.get("price_cents") is not None:
        price = req.integer(body, "price_cents", minimum=0)
        row = await lifecycle.change_price(ctx, caller, session_id, product_id, price)
    return JSON(session_records.product_view(row))


async def edit_session(request: Request) -> JSON:
    """``PATCH /api/sessions/{id}`` {title?, cover_url?, video_url?, starts_at?} (host,
    admin); a start time schedules a draft or moves a scheduled session's start."""
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    fields: dict[str, Any] = {}
    if body.get("title") is not None:
        fields["title"] = req.text(body, "title")
    for name in ("cover_url", "video_url"):
        if body.get(name) is not None:
            fields[name] = images.check_url(body[name], name)
    starts_ms = _starts_at(body)
    if starts_ms is not None:
        fields["starts_ms"] = starts_ms
    session_id = request.path_params["session_id"]
    await lifecycle.edit(req.context(request), caller, session_id, fields)
    return JSON(await _session_body(request, session_id, caller.brand))


async def start_session(request: Request) -> JSON:
    """``POST /api/sessions/{id}/start``."""
    caller = req.principal(request, *HOSTS)
    session_id = request.path_params["session_id"]
    await lifecycle.start(req.context(request), caller, session_id)
    return JSON(await _session_body(request, session_id, caller.brand))


async def end_session(request: Request) -> JSON:
    """``POST /api/sessions/{id}/end``."""
    caller = req.principal(request, *HOSTS)
    session_id = request.path_params["session_id"]
    await lifecycle.end(req.context(request), caller, session_id)
    return JSON(await _session_body(request, session_id, caller.brand))


async def pin(request: Request) -> JSON:
    """``POST /api/sessions/{id}/pin`` {product_id}; ``DELETE`` unpins."""
    caller = req.principal(request, *HOSTS)
    session_id = request.path_params["session_id"]
    product_id = None
    if request.method == "POST":
        product_id = req.text(await req.json_object(request), "product_id", max_chars=64)
    pinned = await lifecycle.pin(req.context(request), caller, session_id, product_id)
    return JSON({"session_id": session_id, "pinned_product_id": pinned})


async def drop_coupon(request: Request) -> JSON:
    """``POST /api/sessions/{id}/coupons`` -> 201 {coupon_id, ...}."""
    caller = req.principal(request, *HOSTS)
    body = await req.json_object(request)
    kind = body.get("kind")
    if kind not in (coupons.AMOUNT_OFF, coupons.PERCENT_OFF):
        raise ClientError(Code.INVALID_REQUEST, "kind must be amount_off or percent_off")
    maximum = 100 if kind == coupons.PERCENT_OFF else 2**53
    fields = {
        "title": req.text(body, "title"),
        "kind": kind,
        "value": req.integer(body, "value", minimum=1, maximum=maximum),
        "min_spend_cents": req.optional_integer(body, "min_spend_cents", minimum=0) or 0,
        "quantity": req.integer(body, "quantity", minimum=1, maximum=10_000_000),
        "per_viewer_limit": req.optional_integer(body, "per_viewer_limit", minimum=1) or 1,
        "expires_in_s": req.optional_integer(body, "expires_in_s", minimum=1, maximum=86_400),
    }
    session_id = request.path_params["session_id"]
    row = await coupons.drop(req.context(request), caller, session_id, fields)
    return JSON(order_records.coupon_view(row), status_code=201)


async def get_leaderboard(request: Request) -> JSON:
    """``GET /api/sessions/{id}/leaderboard`` (host, admin): guides by GMV, orders, viewers."""
    caller = req.principal(request, *HOSTS)
    session_id = request.path_params["session_id"]
    ctx = req.context(request)
    async with transaction(ctx.db) as db:
        await session_records.load(db, caller.brand, session_id)
    try:
        guides = await leaderboard.read(ctx.redis, session_id)
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "the leaderboard is unavailable") from exc
    async with transaction(ctx.db) as db:
        names = await organisation.names(db, caller.brand, [g["guide_id"] for g in guides])
    for guide in guides:
        guide["name"] = names.get(guide["guide_id"], guide["guide_id"])
    return JSON({"session_id": session_id, "guides": guides})


routes = [
    Route("/api/sessions/{session_id}/leaderboard", get_leaderboard, methods=["GET"]),
    Route("/api/sessions", create_session, methods=["POST"]),
    Route("/api/sessions/{session_id}", get_session, methods=["GET"]),
    Route("/api/sessions/{session_id}", edit_session, methods=["PATCH"]),
    Route("/api/sessions/{session_id}/products", add_product, methods=["POST"]),
    Route("/api/sessions/{session_id}/products/{product_id}", edit_product, methods=["PATCH"]),
    Route("/api/sessions/{session_id}/start", start_session, methods=["POST"]),
    Route("/api/sessions/{session_id}/end", end_session, methods=["POST"]),
    Route("/api/sessions/{session_id}/pin", pin, methods=["POST", "DELETE"]),
    Route("/api/sessions/{session_id}/coupons", drop_coupon, methods=["POST"]),
]
