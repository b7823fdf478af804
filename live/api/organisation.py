"""Brand admin endpoints for the organisation: the brand's name, its stores and guides, and CSV
imports of both."""

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.db.models import BrandRow, GuideRow
from live.db.unit import transaction
from live.guides import organisation
from live.platform.clock import now_ms


def _optional_id(body: dict[str, Any], name: str) -> str | None:
    value = req.optional_text(body, name, max_chars=64)
    return organisation.check_id(value, name) if value is not None else None


async def get_brand(request: Request) -> JSON:
    """``GET /api/org/brand`` (admin): the caller's brand; its name is its id until set."""
    caller = req.principal(request, Role.ADMIN)
    async with transaction(req.context(request).db) as db:
        row = await db.get(BrandRow, caller.brand)
    return JSON({"brand": caller.brand, "name": row.name if row else caller.brand})


async def put_brand(request: Request) -> JSON:
    """``PUT /api/org/brand`` {name} (admin): name the caller's brand."""
    caller = req.principal(request, Role.ADMIN)
    body = await req.json_object(request)
    name = organisation.check_name(req.text(body, "name"), "name")
    now = now_ms()
    async with transaction(req.context(request).db) as db:
        row = await db.get(BrandRow, caller.brand)
        if row is None:
            db.add(BrandRow(id=caller.brand, name=name, created_ms=now, updated_ms=now))
        else:
            row.name, row.updated_ms = name, now
    return JSON({"brand": caller.brand, "name": name})


async def list_stores(request: Request) -> JSON:
    """``GET /api/org/stores`` (admin) -> {stores: [...]}."""
    caller = req.principal(request, Role.ADMIN)
    async with transaction(req.context(request).db) as db:
        rows = await organisation.stores(db, caller.brand)
    return JSON({"stores": [organisation.store_view(row) for row in rows]})


async def put_store(request: Request) -> JSON:
    """``PUT /api/org/stores/{store_id}`` {name} (admin): create or rename a store."""
    caller = req.principal(request, Role.ADMIN)
    store_id = organisation.check_id(request.path_params["store_id"], "store_id")
    body = await req.json_object(request)
    store = organisation.Store(store_id, organisation.check_name(req.text(body, "name"), "name"))
    ctx = req.context(request)
    await organisation.apply(ctx.db, caller.brand, [store], [], now_ms=now_ms())
    return JSON({"store_id": store.id, "name": store.name})


async def list_guides(request: Request) -> JSON:
    """``GET /api/org/guides[?store_id=]`` (admin) -> {guides: [...]}."""
    caller = req.principal(request, Role.ADMIN)
    store_id = request.query_params.get("store_id") or None
    async with transaction(req.context(request).db) as db:
        rows = await organisation.guides(db, caller.brand, store_id=store_id)
    return JSON({"guides": [organisation.guide_view(row) for row in rows]})


async def get_guide(request: Request) -> JSON:
    """``GET /api/org/guides/{guide_id}``: an admin of the brand, or the guide itself."""
    caller = req.principal(request, Role.ADMIN, Role.GUIDE)
    guide_id = request.path_params["guide_id"]
    if caller.role == Role.GUIDE and caller.sub != guide_id:
        raise ClientError(Code.NOT_FOUND, f"no guide {guide_id}")
    async with transaction(req.context(request).db) as db:
        row = await db.get(GuideRow, (caller.brand, guide_id))
    if row is None:
        raise ClientError(Code.NOT_FOUND, f"no guide {guide_id}")
    return JSON(organisation.guide_view(row))


async def put_guide(request: Request) -> JSON:
    """``PUT /api/org/guides/{guide_id}`` {name, store_id?, upstream_guide_id?, active?}."""
    caller = req.principal(request, Role.ADMIN)
    guide_id = organisation.check_id(request.path_params["guide_id"], "guide_id")
    body = await req.json_object(request)
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise ClientError(Code.INVALID_REQUEST, "active must be true or false")
    guide = organisation.Guide(
        guide_id,
        organisation.check_name(req.text(body, "name"), "name"),
        store_id=_optional_id(body, "store_id"),
        upstream_guide_id=_optional_id(body, "upstream_guide_id"),
        active=active,
    )
    ctx = req.context(request)
    await organisation.apply(ctx.db, caller.brand, [], [guide], now_ms=now_ms())
    async with transaction(ctx.db) as db:
        row = await db.get(GuideRow, (caller.brand, guide_id))
    assert row is not None  # just written
    return JSON(organisation.guide_view(row))


async def import_csv(request: Request) -> JSON:
    """``POST /api/org/import`` (admin), a CSV body: all rows written, or none and every
    problem named by its line."""
    caller = req.principal(request, Role.ADMIN)
    raw = await req.raw_body(request)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ClientError(Code.INVALID_REQUEST, "the import must be UTF-8 CSV") from exc
    found_stores, found_guides, labels = organisation.parse_csv(text)
    written = await organisation.apply(
        req.context(request).db,
        caller.brand,
        found_stores,
        found_guides,
        now_ms=now_ms(),
        labels=labels,
    )
    return JSON({"stores": written[0], "guides": written[1]})


routes = [
    Route("/api/org/brand", get_brand, methods=["GET"]),
    Route("/api/org/brand", put_brand, methods=["PUT"]),
    Route("/api/org/stores", list_stores, methods=["GET"]),
    Route("/api/org/stores/{store_id}", put_store, methods=["PUT"]),
    Route("/api/org/guides", list_guides, methods=["GET"]),
    Route("/api/org/guides/{guide_id}", get_guide, methods=["GET"]),
    Route("/api/org/guides/{guide_id}", put_guide, methods=["PUT"]),
    Route("/api/org/import", import_csv, methods=["POST"]),
]
