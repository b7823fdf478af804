"""``GET /openapi.json``: the HTTP API as an OpenAPI 3.1 document, written by hand.

Contract: every HTTP route of the app is listed (`tests/live/api/test_openapi.py` checks it against
the router), with its request body's fields and limits as the handlers enforce them, the roles
allowed (``x-roles``) and the catalog error body. The room socket is documented in
`docs/protocol.md`, not here: OpenAPI does not describe WebSockets.
"""

from starlette.requests import Request
from starlette.routing import Route

from common.errors import Code
from live.api.openapi_reservations import RESERVATION_PATHS
from live.api.openapi_schema import (
    ANYONE,
    CLIP,
    COUPON,
    HOSTS,
    ID,
    IDEMPOTENCY,
    IMAGE_BODY,
    MS,
    NAME,
    ORDER_LIST_QUERY,
    PRODUCT,
    SALE,
    Schema,
    content,
    integer,
    obj,
    op,
    text,
)
from live.api.openapi_webhooks import WEBHOOK_PATHS
from live.api.openapi_workspace import WORKSPACE_PATHS
from live.api.responses import JSON

PATHS: dict[str, dict[str, Schema]] = {
    "/api/sessions": {
        "get": op("The brand's sessions, newest first", ["host", "admin", "guide"]),
        "post": op(
            "Create a session (scheduled when given a start time)",
            HOSTS,
            body=content(obj({"title": text()}, {"starts_at": MS, "cover_url": text(1000)})),
            ok=201,
        ),
    },
    "/api/sessions/{session_id}/stats": {
        "get": op("Live figures of a session (orders, GMV, conversion, stock)", HOSTS)
    },
    "/api/dev/signin": {
        "post": op(
            "Mint a token (development only, LIVE_DEV_SIGNIN=1)",
            None,
            body=content(
                obj(
                    {
                        "role": {"enum": ["host", "viewer", "guide", "manager", "admin"]},
                        "sub": text(64),
                    },
                    {"brand": text(64), "name": text(), "store": text(64)},
                )
            ),
        )
    },
    "/api/sessions/{session_id}": {
        "get": op("A session with its products", ANYONE),
        "patch": op(
            "Change a session's title, cover, recorded video or scheduled start",
            HOSTS,
            body=content(
                obj(
                    {},
                    {
                        "title": text(),
                        "cover_url": text(1000),
                        "video_url": text(1000),
                        "starts_at": MS,
                    },
                )
            ),
        ),
    },
    "/api/sessions/{session_id}/products": {
        "post": op("Add a product (or a variant of one)", HOSTS, body=content(PRODUCT), ok=201)
    },
    "/api/sessions/{session_id}/products/{product_id}": {
        "patch": op(
            "Change a price or an image",
            HOSTS,
            body=content(obj({}, {"price_cents": integer(0), "image_url": text(1000)})),
        )
    },
    "/api/sessions/{session_id}/products/{product_id}/image": {
        "post": {**op("Upload a product's image", HOSTS), "requestBody": IMAGE_BODY}
    },
    "/api/sessions/{session_id}/cover": {
        "post": {**op("Upload a session's cover", HOSTS), "requestBody": IMAGE_BODY}
    },
    "/media/{brand}/{name}": {"get": op("A stored image", None, media="image/*")},
    "/api/sessions/{session_id}/start": {"post": op("Start the session", HOSTS)},
    "/api/sessions/{session_id}/end": {"post": op("End the session", HOSTS)},
    "/api/sessions/{session_id}/pin": {
        "post": op("Pin a product", HOSTS, body=content(obj({"product_id": ID}))),
        "delete": op("Unpin", HOSTS),
    },
    "/api/sessions/{session_id}/coupons": {
        "post": op("Drop a coupon", HOSTS, body=content(COUPON), ok=201)
    },
    "/api/sessions/{session_id}/leaderboard": {"get": op("Guide leaderboard", HOSTS)},
    "/api/sessions/{session_id}/orders": {
        "post": op(
            "Place an order (reserve stock)",
            ["viewer"],
            body=content(
                obj({"product_id": ID, "qty": integer(1, 1000)}, {"coupon_id": ID, "offer_id": ID})
            ),
            headers=IDEMPOTENCY,
            ok=201,
        )
    },
    "/api/orders/{order_id}": {
        "get": op(
            "An order; `mine`: the viewer's own orders",
            ["viewer", "admin"],
            query={
                "session_id": {"type": "string"},
                "status": {"type": "string"},
                "limit": integer(1, 100),
                "cursor": {"type": "string"},
            },
        )
    },
    "/api/orders/{order_id}/pay": {
        "post": op(
            "Start paying a reserved order",
            ["viewer"],
            body=content(obj({}, {"openid": text(128)})),
        )
    },
    "/api/dev/payments/{order_id}": {
        "post": op("Pay with the development provider (LIVE_PAYMENT_PROVIDER=dev)", ["viewer"])
    },
    "/api/payments/wechat/notify": {
        "post": op("WeChat Pay's callback (platform-signed, AES-GCM resource)", None)
    },
    "/api/orders/{order_id}/cancel": {"post": op("Cancel an order", ["viewer", "host", "admin"])},
    "/api/orders/{order_id}/refund": {
        "post": op(
            "Refund a paid order (restock: its units back into stock)",
            ["admin"],
            body=content(obj({}, {"restock": {"type": "boolean"}})),
        )
    },
    "/api/sessions/{session_id}/waitlist": {
        "get": op(
            "Waitlists: lengths (hosts), customers' places (guide), own places (viewer)",
            ["host", "admin", "guide", "viewer"],
        ),
        "post": op(
            "Join a sold-out product's waitlist",
            ["viewer"],
            body=content(obj({"product_id": ID})),
            ok=201,
        ),
    },
    "/api/sessions/{session_id}/waitlist/{product_id}": {
        "delete": op("Leave a waitlist (declines an offer held)", ["viewer"])
    },
    "/api/sessions/{session_id}/products/{product_id}/stock": {
        "put": op(
            "Set a product's stock (units added go to its waitlist first)",
            HOSTS,
            body=content(obj({"stock": integer(0, 10_000_000)})),
        )
    },
    "/api/payments/notify": {
        "post": op(
            "Payment provider callback (HMAC-signed body)",
            None,
            body=content(
                obj({"order_id": ID, "paid_amount_cents": integer(0), "provider_txn_id": ID})
            ),
            headers={"X-Signature": {"type": "string"}},
        )
    },
    "/api/sessions/{session_id}/sales": {
        "post": op("Open a flash sale", HOSTS, body=content(SALE), ok=201)
    },
    "/api/sessions/{session_id}/sales/{sale_id}/close": {"post": op("Close a sale", HOSTS)},
    "/api/guides/me/share": {
        "get": op(
            "A guide's share code",
            ["guide"],
            query={"session_id": {"type": "string"}, "clip_id": {"type": "string"}},
        )
    },
    "/api/guides/me/share.png": {
        "get": op(
            "The share code as a QR PNG",
            ["guide"],
            query={
                "session_id": {"type": "string"},
                "clip_id": {"type": "string"},
                "scale": integer(4, 40),
            },
            media="image/png",
        )
    },
    "/api/guides/me/poster.png": {
        "get": op(
            "A guide's share poster (title, picture, guide, QR of the short link)",
            ["guide"],
            query={"session_id": {"type": "string"}, "clip_id": {"type": "string"}},
            media="image/png",
        )
    },
    "/api/guides/me/share/{code}": {"delete": op("Revoke one of my short links", ["guide"])},
    "/api/share/{code}": {"get": op("What a short link stands for (mini-program scene)", None)},
    "/s/{code}": {"get": op("Open a short link", None, ok=302, media="text/html")},
    "/api/guides/me/orders": {
        "get": op("A guide's attributed orders", ["guide"], query=ORDER_LIST_QUERY)
    },
    "/api/guides/me/summary": {
        "get": op(
            "A guide's totals",
            ["guide"],
            query={"session_id": {"type": "string"}, "from_ms": MS, "to_ms": MS},
        )
    },
    "/api/guides/orders": {
        "get": op(
            "Orders of a store's or the brand's guides",
            ["manager", "admin"],
            query={**ORDER_LIST_QUERY, "guide_id": {"type": "string"}, "store_id": ID},
        )
    },
    "/api/sessions/{session_id}/moderation": {
        "get": op("The session's muted viewers", HOSTS),
        "post": op(
            "Mute, unmute or kick a viewer",
            HOSTS,
            body=content(
                obj(
                    {"action": {"enum": ["mute", "unmute", "kick"]}, "user_id": text(64)},
                    {"name": text(64)},
                )
            ),
        ),
    },
    "/api/sessions/{session_id}/comments/{comment_id}": {"delete": op("Delete a comment", HOSTS)},
    "/api/sessions/{session_id}/messages": {
        "post": op(
            "A private message to one viewer",
            HOSTS,
            body=content(obj({"user_id": text(64), "text": text(500)})),
            ok=202,
        )
    },
    "/api/sessions/{session_id}/draws": {
        "get": op("The session's draws with their results", ANYONE),
        "post": op(
            "Open a lucky draw",
            HOSTS,
            body=content(
                obj(
                    {"winners": integer(1, 1000), "duration_s": integer(1, 3600)},
                    {"keyword": text(20), "prize": text(100)},
                )
            ),
            ok=201,
        ),
    },
    "/api/sessions/{session_id}/draws/{draw_id}/close": {"post": op("Close a draw", HOSTS)},
    "/api/brands/me/attribution": {
        "get": op("The binding policy", ["admin", "guide"]),
        "put": op(
            "Set the binding policy",
            ["admin"],
            body=content(
                obj(
                    {"kind": {"enum": ["last_touch", "first_touch"]}},
                    {
                        "window_s": integer(60),
                        "protection_s": integer(60),
                        "extend_on_order": {"type": "boolean"},
                        "new_customers_only": {"type": "boolean"},
                    },
                )
            ),
        ),
    },
    "/api/brands/me/commission": {
        "get": op("The commission plan", ["admin", "guide"]),
        "put": op(
            "Set the commission plan",
            ["admin"],
            body=content(
                obj(
                    {
                        "rate_bp": integer(0, 10_000),
                        "upstream_rate_bp": integer(0, 10_000),
                    }
                )
            ),
        ),
    },
    "/api/brands/me/policy": {
        "get": op("The live-room policy", ["admin", "host"]),
        "put": op(
            "Set the live-room policy",
            ["admin"],
            body=content(
                obj(
                    {},
                    {
                        "banned_words": {"type": "array", "items": {"type": "string"}},
                        "banned_mode": {"enum": ["mask", "reject"]},
                        "allowed_origins": {"type": "array", "items": {"type": "string"}},
                        "language": {"enum": ["en", "zh-CN", None]},
                    },
                )
            ),
        ),
    },
    "/api/org/brand": {
        "get": op("The brand record", ["admin"]),
        "put": op("Name the brand", ["admin"], body=content(NAME)),
    },
    "/api/org/stores": {"get": op("The brand's stores", ["admin"])},
    "/api/org/stores/{store_id}": {
        "put": op("Create or rename a store", ["admin"], body=content(NAME))
    },
    "/api/org/guides": {"get": op("The brand's guides", ["admin"], query={"store_id": ID})},
    "/api/org/guides/{guide_id}": {
        "get": op("A guide", ["admin", "guide"]),
        "put": op(
            "Create or change a guide",
            ["admin"],
            body=content(
                obj(
                    {"name": text()},
                    {"store_id": ID, "upstream_guide_id": ID, "active": {"type": "boolean"}},
                )
            ),
        ),
    },
    "/api/org/import": {
        "post": {
            **op("Import stores and guides (CSV)", ["admin"]),
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
        }
    },
    "/api/sessions/{session_id}/replay": {
        "get": op("Archived events of a window", ANYONE, query={"from_ms": MS, "to_ms": MS})
    },
    "/api/sessions/{session_id}/clips": {
        "get": op("A session's clips", ANYONE),
        "post": op("Cut a clip", HOSTS, body=content(CLIP), ok=201),
    },
    "/api/sessions/{session_id}/clips/{clip_id}": {
        "get": op("A clip", ANYONE, query={"share": {"type": "string"}}),
        "patch": op(
            "Edit a clip",
            HOSTS,
            body=content(obj({}, {"title": text(), "from_ms": MS, "to_ms": MS})),
        ),
    },
    "/api/sessions/{session_id}/clips/{clip_id}/orders": {
        "post": op(
            "Buy a clip's product after the session ended",
            ["viewer"],
            body=content(obj({"qty": integer(1, 100)}, {"share": {"type": "string"}})),
            headers=IDEMPOTENCY,
            ok=201,
        )
    },
    "/api/sessions/{session_id}/clips/{clip_id}/stats": {
        "get": op(
            "A clip's views, orders, purchases and GMV", ["host", "admin", "guide", "manager"]
        )
    },
    "/api/sessions/{session_id}/archive": {"delete": op("Delete the archive", ["admin"])},
    "/api/sessions/{session_id}/archive/bundle": {
        "get": op("The archive as one tar", ["admin"], media="application/x-tar")
    },
    "/healthz": {"get": op("Engines answer", None)},
    "/readyz": {"get": op("Ready to serve: engines and scripts checked", None)},
    "/metrics": {"get": op("Prometheus metrics of this node", None, media="text/plain")},
    "/openapi.json": {"get": op("This document", None)},
    "/": {"get": op("The pages' index", None, media="text/html")},
    "/host": {"get": op("The host panel", None, media="text/html")},
    "/guide": {"get": op("The guide workspace", None, media="text/html")},
    "/watch/{session_id}": {"get": op("The viewer demo page", None, media="text/html")},
    "/pay/{order_id}": {"get": op("The development provider's pay page", None, media="text/html")},
    "/replay/{session_id}": {"get": op("The replay page", None, media="text/html")},
    "/clips/{clip_id}": {"get": op("A clip's page", None, media="text/html")},
    "/i18n/{lang}.json": {"get": op("The pages' sentences in a language (en, zh-CN)", None)},
    "/api/clips/{clip_id}": {
        "get": op("A clip by its id, with its product", ANYONE, query={"share": {"type": "string"}})
    },
    **WEBHOOK_PATHS,
    **WORKSPACE_PATHS,
    **RESERVATION_PATHS,
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
                "Error": obj(
                    {"error": obj({"code": {"enum": [code.value for code in Code]}, "message": {}})}
                )
            },
        },
    }


_DOCUMENT = document()


async def openapi(_request: Request) -> JSON:
    """The document."""
    return JSON(_DOCUMENT)


routes = [Route("/openapi.json", openapi, methods=["GET"])]
