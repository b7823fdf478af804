"""Webhook endpoints of a brand (admin): register, change, delete; the event and delivery
logs; redelivery of one event or a time range."""

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.db.models import WebhookEventRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from live.webhooks import endpoints, events, log

MAX_PAGE = 200
STATUSES = (endpoints.PENDING, endpoints.DELIVERED, endpoints.DEAD)


def _fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The endpoint fields of a body, checked (the record checks url and types)."""
    fields: dict[str, Any] = {
        name: body[name] for name in ("url", "event_types", "active") if name in body
    }
    if creating and ("url" not in fields or "event_types" not in fields):
        raise ClientError(Code.INVALID_REQUEST, "url and event_types are required")
    if "description" in body:
        fields["description"] = req.optional_text(body, "description", max_chars=200) or ""
    if body.get("rotate_secret") is True:
        fields["rotate_secret"] = True
    return fields


async def create_endpoint(request: Request) -> JSON:
    """``POST /api/webhooks/endpoints`` {url, event_types, description?} -> 201 with secret."""
    caller = req.principal(request, Role.ADMIN)
    fields = _fields(await req.json_object(request), creating=True)
    async with transaction(req.context(request).db) as db:
        row = await endpoints.create(db, caller.brand, fields, now_ms=now_ms())
    return JSON(endpoints.view(row, with_secret=True), status_code=201)


async def list_endpoints(request: Request) -> JSON:
    """``GET /api/webhooks/endpoints``: the brand's endpoints (without secrets)."""
    caller = req.principal(request, Role.ADMIN)
    async with transaction(req.context(request).db) as db:
        rows = await endpoints.of_brand(db, caller.brand)
    return JSON({"items": [endpoints.view(row) for row in rows], "event_types": events.EVENT_TYPES})


async def get_endpoint(request: Request) -> JSON:
    """``GET /api/webhooks/endpoints/{endpoint_id}``: one endpoint, with its secret."""
    caller = req.principal(request, Role.ADMIN)
    async with transaction(req.context(request).db) as db:
        row = await endpoints.load(db, caller.brand, request.path_params["endpoint_id"])
    return JSON(endpoints.view(row, with_secret=True))


async def change_endpoint(request: Request) -> JSON:
    """``PATCH /api/webhooks/endpoints/{endpoint_id}`` {url?, event_types?, description?,
    active?, rotate_secret?}."""
    caller = req.principal(request, Role.ADMIN)
    fields = _fields(await req.json_object(request), creating=False)
    async with transaction(req.context(request).db) as db:
        row = await endpoints.change(
            db, caller.brand, request.path_params["endpoint_id"], fields, now_ms=now_ms()
        )
    return JSON(endpoints.view(row, with_secret=True))


async def delete_endpoint(request: Request) -> JSON:
    """``DELETE /api/webhooks/endpoints/{endpoint_id}``: nothing more goes to it."""
    caller = req.principal(request, Role.ADMIN)
    endpoint_id = request.path_params["endpoint_id"]
    async with transaction(req.context(request).db) as db:
        await endpoints.delete(db, caller.brand, endpoint_id, now_ms=now_ms())
    return JSON({"endpoint_id": endpoint_id, "deleted": True})


def _limit(request: Request) -> int:
    return req.query_integer(request, "limit", minimum=1, maximum=MAX_PAGE) or 50


async def list_deliveries(request: Request) -> JSON:
    """``GET /api/webhooks/endpoints/{endpoint_id}/deliveries?status=&cursor=&limit=``."""
    caller = req.principal(request, Role.ADMIN)
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ClientError(Code.INVALID_REQUEST, f"status must be one of {', '.join(STATUSES)}")
    async with transaction(req.context(request).db) as db:
        endpoint = await endpoints.load(db, caller.brand, request.path_params["endpoint_id"])
        items, cursor = await log.deliveries_page(
            db,
            endpoint,
            status=status,
            cursor=request.query_params.get("cursor") or None,
            limit=_limit(request),
        )
    return JSON({"items": items, "next_cursor": cursor})


async def list_attempts(request: Request) -> JSON:
    """``GET /api/webhooks/deliveries/{delivery_id}/attempts``: the delivery's attempts."""
    caller = req.principal(request, Role.ADMIN)
    async with transaction(req.context(request).db) as db:
        rows = await log.attempts_of(db, caller.brand, request.path_params["delivery_id"])
    return JSON({"items": [log.attempt_view(row) for row in rows]})


async def list_events(request: Request) -> JSON:
    """``GET /api/webhooks/events?type=&from_ms=&to_ms=&cursor=&limit=``: the outbox."""
    caller = req.principal(request, Role.ADMIN)
    kind = request.query_params.get("type") or None
    if kind is not None and kind not in events.EVENT_TYPES:
        raise ClientError(Code.INVALID_REQUEST, f"unknown event type {kind!r}")
    async with transaction(req.context(request).db) as db:
        rows, cursor = await log.events_page(
            db,
            caller.brand,
            kind=kind,
            from_ms=req.query_integer(request, "from_ms", minimum=0),
            to_ms=req.query_integer(request, "to_ms", minimum=0),
            cursor=request.query_params.get("cursor") or None,
            limit=_limit(request),
        )
    return JSON({"items": [log.event_view(row) for row in rows], "next_cursor": cursor})


async def redeliver_event(request: Request) -> JSON:
    """``POST /api/webhooks/events/{event_id}/redeliver`` {endpoint_id?}: send it again to
    that endpoint, or to every endpoint of the brand subscribed to its type."""
    caller = req.principal(request, Role.ADMIN)
    body = await req.json_object(request)
    endpoint_id = req.optional_text(body, "endpoint_id", max_chars=32)
    async with transaction(req.context(request).db) as db:
        event = await db.get(WebhookEventRow, request.path_params["event_id"])
        if event is None or event.brand != caller.brand:
            raise ClientError(Code.NOT_FOUND, "no such webhook event")
        if endpoint_id is None:
            targets = await endpoints.of_brand(db, caller.brand)
        else:
            targets = [await endpoints.load(db, caller.brand, endpoint_id)]
            if event.type not in endpoints.types_of(targets[0]):
                raise ClientError(
                    Code.INVALID_REQUEST, f"the endpoint does not subscribe to {event.type}"
                )
        count = await log.redeliver(db, [event], targets, now_ms=now_ms())
    return JSON({"event_id": event.id, "deliveries": count}, status_code=202)


async def redeliver_range(request: Request) -> JSON:
    """``POST /api/webhooks/endpoints/{endpoint_id}/redeliver`` {from_ms, to_ms}: every event
    of the range of a type the endpoint subscribes to, again."""
    caller = req.principal(request, Role.ADMIN)
    body = await req.json_object(request)
    from_ms = req.integer(body, "from_ms", minimum=0)
    to_ms = req.integer(body, "to_ms", minimum=0)
    if to_ms < from_ms:
        raise ClientError(Code.INVALID_REQUEST, "to_ms must not be before from_ms")
    async with transaction(req.context(request).db) as db:
        endpoint = await endpoints.load(db, caller.brand, request.path_params["endpoint_id"])
        found = await log.events_between(db, caller.brand, from_ms=from_ms, to_ms=to_ms)
        count = await log.redeliver(db, found, [endpoint], now_ms=now_ms())
    return JSON({"endpoint_id": endpoint.id, "deliveries": count}, status_code=202)


routes = [
    Route("/api/webhooks/endpoints", create_endpoint, methods=["POST"]),
    Route("/api/webhooks/endpoints", list_endpoints, methods=["GET"]),
    Route("/api/webhooks/endpoints/{endpoint_id}", get_endpoint, methods=["GET"]),
    Route("/api/webhooks/endpoints/{endpoint_id}", change_endpoint, methods=["PATCH"]),
    Route("/api/webhooks/endpoints/{endpoint_id}", delete_endpoint, methods=["DELETE"]),
    Route("/api/webhooks/endpoints/{endpoint_id}/deliveries", list_deliveries, methods=["GET"]),
    Route("/api/webhooks/endpoints/{endpoint_id}/redeliver", redeliver_range, methods=["POST"]),
    Route("/api/webhooks/deliveries/{delivery_id}/attempts", list_attempts, methods=["GET"]),
    Route("/api/webhooks/events", list_events, methods=["GET"]),
    Route("/api/webhooks/events/{event_id}/redeliver", redeliver_event, methods=["POST"]),
]
