"""``GET /openapi.json``: the HTTP API as an OpenAPI 3.1 document, written by hand.

Contract: every HTTP route of the app is listed (`tests/live/test_openapi.py` checks it against
the router), with its request body's fields and limits as the handlers enforce them, the roles
allowed (``x-roles``) and the catalog error body. The room socket is documented in
`docs/protocol.md`, not here: OpenAPI does not describe WebSockets.
"""

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from live.api.responses import JSON
from realtime.errors import Code

Schema = dict[str, Any]

HOSTS = ["host", "admin"]
ANYONE = ["viewer", "guide", "manager", "host", "admin"]
ID = {"type": "string", "minLength": 1, "maxLength": 64}
MS = {"type": "integer", "minimum": 0}


def _integer(minimum: int, maximum: int = 2**53) -> Schema:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _text(max_chars: int = 200) -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": max_chars}


def _object(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


def _op(
    summary: str,
    roles: list[str] | None,
    *,
    body: Schema | None = None,
    query: dict[str, Schema] | None = None,
    headers: dict[str, Schema] | None = None,
    ok: int = 200,
    media: str = "application/json",
) -> Schema:
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in (query or {}).items()
    ] + [
        {"name": name, "in": "header", "required": True, "schema": schema}
        for name, schema in (headers or {}).items()
    ]
    operation: Schema = {
        "summary": summary,
        "parameters": parameters,
        "responses": {
            str(ok): {"description": "success", "content": {media: {}}},
            "default": {
                "description": "a catalog error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if roles is not None:
        operation["x-roles"] = roles
        operation["security"] = [{"bearer": []}]
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": body}}
    return operation


def _content(schema: Schema) -> Schema:
    return {"schema": schema}


PRODUCT = _object(
    {"sku": _text(64), "title": _text(), "price_cents": _integer(0), "stock": _integer(0, 10**7)},
    {"limit_per_viewer": _integer(1), "commission_bp": _integer(0, 10_000)},
)
COUPON = _object(
    {
        "title": _text(),
        "kind": {"enum": ["amount_off", "percent_off"]},
        "value": _integer(1),
        "quantity": _integer(1, 10**7),
    },
    {
        "min_spend_cents": _integer(0),
        "per_viewer_limit": _integer(1),
        "expires_in_s": _integer(1, 86_400),
    },
)
SALE = _object(
    {"product_id": ID, "sale_price_cents": _integer(0), "stock_cap": _integer(1, 10**7)},
    {
        "starts_at": MS,
        "starts_in_s": _integer(0, 86_400),
        "ends_at": MS,
        "duration_s": _integer(1, 86_400),
        "per_viewer_limit": _integer(1),
    },
)
CLIP = _object({"product_id": ID, "from_ms": MS, "to_ms": MS}, {"title": _text()})
ORDER_LIST_QUERY = {
    "cursor": {"type": "string"},
    "limit": _integer(1, 10_000),
    "session_id": {"type": "string"},
    "status": {"type": "string"},
    "from_ms": MS,
    "to_ms": MS,
    "format": {"enum": ["json", "csv"]},
}
NAME = _object({"name": _text()})
IDEMPOTENCY = {"Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 200}}

PATHS: dict[str, dict[str, Schema]] = {
    "/api/sessions": {
        "get": _op("The brand's sessions, newest first", ["host", "admin", "guide"]),
        "post": _op("Create a session", HOSTS, body=_content(_object({"title": _text()})), ok=201),
    },
    "/api/sessions/{session_id}/stats": {
        "get": _op("Live figures of a session (orders, GMV, conversion, stock)", HOSTS)
    },
    "/api/dev/signin": {
        "post": _op(
            "Mint a token (development only, LIVE_DEV_SIGNIN=1)",
            None,
            body=_content(
                _object(
                    {
                        "role": {"enum": ["host", "viewer", "guide", "manager", "admin"]},
                        "sub": _text(64),
                    },
                    {"brand": _text(64), "name": _text(), "store": _text(64)},
                )
            ),
        )
    },
    "/api/sessions/{session_id}": {"get": _op("A session with its products", ANYONE)},
    "/api/sessions/{session_id}/products": {
        "post": _op("Add a product", HOSTS, body=_content(PRODUCT), ok=201)
    },
    "/api/sessions/{session_id}/products/{product_id}": {
        "patch": _op("Change a price", HOSTS, body=_content(_object({"price_cents": _integer(0)})))
    },
    "/api/sessions/{session_id}/start": {"post": _op("Start the session", HOSTS)},
    "/api/sessions/{session_id}/end": {"post": _op("End the session", HOSTS)},
    "/api/sessions/{session_id}/pin": {
        "post": _op("Pin a product", HOSTS, body=_content(_object({"product_id": ID}))),
        "delete": _op("Unpin", HOSTS),
    },
    "/api/sessions/{session_id}/coupons": {
        "post": _op("Drop a coupon", HOSTS, body=_content(COUPON), ok=201)
    },
    "/api/sessions/{session_id}/leaderboard": {"get": _op("Guide leaderboard", HOSTS)},
    "/api/sessions/{session_id}/orders": {
        "post": _op(
            "Place an order (reserve stock)",
            ["viewer"],
            body=_content(_object({"product_id": ID, "qty": _integer(1, 1000)}, {"coupon_id": ID})),
            headers=IDEMPOTENCY,
            ok=201,
        )
    },
    "/api/orders/{order_id}": {"get": _op("An order", ["viewer", "admin"])},
    "/api/orders/{order_id}/cancel": {"post": _op("Cancel an order", ["viewer", "host", "admin"])},
    "/api/orders/{order_id}/refund": {"post": _op("Refund a paid order", ["admin"])},
    "/api/payments/notify": {
        "post": _op(
            "Payment provider callback (HMAC-signed body)",
            None,
            body=_content(
                _object({"order_id": ID, "paid_amount_cents": _integer(0), "provider_txn_id": ID})
            ),
            headers={"X-Signature": {"type": "string"}},
        )
    },
    "/api/sessions/{session_id}/sales": {
        "post": _op("Open a flash sale", HOSTS, body=_content(SALE), ok=201)
    },
    "/api/sessions/{session_id}/sales/{sale_id}/close": {"post": _op("Close a sale", HOSTS)},
    "/api/guides/me/share": {
        "get": _op(
            "A guide's share code",
            ["guide"],
            query={"session_id": {"type": "string"}, "clip_id": {"type": "string"}},
        )
    },
    "/api/guides/me/share.png": {
        "get": _op(
            "The share code as a QR PNG",
            ["guide"],
            query={
                "session_id": {"type": "string"},
                "clip_id": {"type": "string"},
                "scale": _integer(4, 40),
            },
            media="image/png",
        )
    },
    "/api/guides/me/orders": {
        "get": _op("A guide's attributed orders", ["guide"], query=ORDER_LIST_QUERY)
    },
    "/api/guides/me/summary": {
        "get": _op(
            "A guide's totals",
            ["guide"],
            query={"session_id": {"type": "string"}, "from_ms": MS, "to_ms": MS},
        )
    },
    "/api/guides/orders": {
        "get": _op(
            "Orders of a store's or the brand's guides",
            ["manager", "admin"],
            query={**ORDER_LIST_QUERY, "guide_id": {"type": "string"}, "store_id": ID},
        )
    },
    "/api/sessions/{session_id}/moderation": {
        "post": _op(
            "Mute, unmute or kick a viewer",
            HOSTS,
            body=_content(
                _object({"action": {"enum": ["mute", "unmute", "kick"]}, "user_id": _text(64)})
            ),
        )
    },
    "/api/sessions/{session_id}/comments/{comment_id}": {"delete": _op("Delete a comment", HOSTS)},
    "/api/sessions/{session_id}/messages": {
        "post": _op(
            "A private message to one viewer",
            HOSTS,
            body=_content(_object({"user_id": _text(64), "text": _text(500)})),
            ok=202,
        )
    },
    "/api/sessions/{session_id}/draws": {
        "post": _op(
            "Open a lucky draw",
            HOSTS,
            body=_content(
                _object(
                    {"winners": _integer(1, 1000), "duration_s": _integer(1, 3600)},
                    {"keyword": _text(20), "prize": _text(100)},
                )
            ),
            ok=201,
        )
    },
    "/api/sessions/{session_id}/draws/{draw_id}/close": {"post": _op("Close a draw", HOSTS)},
    "/api/brands/me/attribution": {
        "get": _op("The binding policy", ["admin", "guide"]),
        "put": _op(
            "Set the binding policy",
            ["admin"],
            body=_content(
                _object(
                    {"kind": {"enum": ["last_touch", "first_touch"]}},
                    {
                        "window_s": _integer(60),
                        "protection_s": _integer(60),
                        "extend_on_order": {"type": "boolean"},
                        "new_customers_only": {"type": "boolean"},
                    },
                )
            ),
        ),
    },
    "/api/brands/me/commission": {
        "get": _op("The commission plan", ["admin", "guide"]),
        "put": _op(
            "Set the commission plan",
            ["admin"],
            body=_content(
                _object({"rate_bp": _integer(0, 10_000), "upstream_rate_bp": _integer(0, 10_000)})
            ),
        ),
    },
    "/api/brands/me/policy": {
        "get": _op("The live-room policy", ["admin", "host"]),
        "put": _op(
            "Set the live-room policy",
            ["admin"],
            body=_content(
                _object(
                    {},
                    {
                        "banned_words": {"type": "array", "items": {"type": "string"}},
                        "banned_mode": {"enum": ["mask", "reject"]},
                        "allowed_origins": {"type": "array", "items": {"type": "string"}},
                    },
                )
            ),
        ),
    },
    "/api/org/brand": {
        "get": _op("The brand record", ["admin"]),
        "put": _op("Name the brand", ["admin"], body=_content(NAME)),
    },
    "/api/org/stores": {"get": _op("The brand's stores", ["admin"])},
    "/api/org/stores/{store_id}": {
        "put": _op("Create or rename a store", ["admin"], body=_content(NAME))
    },
    "/api/org/guides": {"get": _op("The brand's guides", ["admin"], query={"store_id": ID})},
    "/api/org/guides/{guide_id}": {
        "get": _op("A guide", ["admin", "guide"]),
        "put": _op(
            "Create or change a guide",
            ["admin"],
            body=_content(
                _object(
                    {"name": _text()},
                    {"store_id": ID, "upstream_guide_id": ID, "active": {"type": "boolean"}},
                )
            ),
        ),
    },
    "/api/org/import": {
        "post": {
            **_op("Import stores and guides (CSV)", ["admin"]),
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
        }
    },
    "/api/sessions/{session_id}/replay": {
        "get": _op("Archived events of a window", ANYONE, query={"from_ms": MS, "to_ms": MS})
    },
    "/api/sessions/{session_id}/clips": {
        "get": _op("A session's clips", ANYONE),
        "post": _op("Cut a clip", HOSTS, body=_content(CLIP), ok=201),
    },
    "/api/sessions/{session_id}/clips/{clip_id}": {
        "get": _op("A clip", ANYONE, query={"share": {"type": "string"}}),
        "patch": _op(
            "Edit a clip",
            HOSTS,
            body=_content(_object({}, {"title": _text(), "from_ms": MS, "to_ms": MS})),
        ),
    },
    "/api/sessions/{session_id}/clips/{clip_id}/orders": {
        "post": _op(
            "Buy a clip's product after the session ended",
            ["viewer"],
            body=_content(_object({"qty": _integer(1, 100)}, {"share": {"type": "string"}})),
            headers=IDEMPOTENCY,
            ok=201,
        )
    },
    "/api/sessions/{session_id}/clips/{clip_id}/stats": {
        "get": _op(
            "A clip's views, orders, purchases and GMV", ["host", "admin", "guide", "manager"]
        )
    },
    "/api/sessions/{session_id}/archive": {"delete": _op("Delete the archive", ["admin"])},
    "/api/sessions/{session_id}/archive/bundle": {
        "get": _op("The archive as one tar", ["admin"], media="application/x-tar")
    },
    "/healthz": {"get": _op("Engines answer", None)},
    "/readyz": {"get": _op("Ready to serve: engines and scripts checked", None)},
    "/metrics": {"get": _op("Prometheus metrics of this node", None, media="text/plain")},
    "/openapi.json": {"get": _op("This document", None)},
    "/": {"get": _op("The pages' index", None, media="text/html")},
    "/host": {"get": _op("The host panel", None, media="text/html")},
    "/guide": {"get": _op("The guide workspace", None, media="text/html")},
    "/watch/{session_id}": {"get": _op("The viewer demo page", None, media="text/html")},
}


def _with_path_parameters(paths: dict[str, dict[str, Schema]]) -> dict[str, dict[str, Schema]]:
    out: dict[str, dict[str, Schema]] = {}
    for path, operations in paths.items():
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        params = [{"name": n, "in": "path", "required": True, "schema": ID} for n in names]
        out[path] = {
            method: {**op, "parameters": [*params, *op["parameters"]]}
            for method, op in operations.items()
        }
    return out


def document() -> Schema:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Live-commerce session server", "version": "1"},
        "paths": _with_path_parameters(PATHS),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _object(
                    {
                        "error": _object(
                            {"code": {"enum": [code.value for code in Code]}, "message": {}}
                        )
                    }
                )
            },
        },
    }


_DOCUMENT = document()


async def openapi(_request: Request) -> JSON:
    """The document."""
    return JSON(_DOCUMENT)


routes = [Route("/openapi.json", openapi, methods=["GET"])]
