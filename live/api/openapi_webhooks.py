"""The webhook routes of ``/openapi.json`` (`live.api.webhooks`), merged into the document by
`live.api.openapi`.

``x-outbound`` marks the operations that set a URL the server will call: a schema fuzzer
must not run them against a node that delivers (it would make the node call arbitrary hosts).
"""

from live.api.openapi_schema import ID, MS, Schema, content, integer, obj, op, text

ADMIN = ["admin"]
_TYPES = {"type": "array", "minItems": 1, "items": {"type": "string"}}
_URL = {"type": "string", "minLength": 1, "maxLength": 2048}
_PAGE = {"cursor": {"type": "string"}, "limit": integer(1, 200)}


def _outbound(operation: Schema) -> Schema:
    return {**operation, "x-outbound": True}


WEBHOOK_PATHS: dict[str, dict[str, Schema]] = {
    "/api/webhooks/endpoints": {
        "get": op("The brand's webhook endpoints", ADMIN),
        "post": _outbound(
            op(
                "Register a webhook endpoint (answers its signing secret)",
                ADMIN,
                body=content(obj({"url": _URL, "event_types": _TYPES}, {"description": text()})),
                ok=201,
            )
        ),
    },
    "/api/webhooks/endpoints/{endpoint_id}": {
        "get": op("A webhook endpoint with its secret", ADMIN),
        "patch": _outbound(
            op(
                "Change, pause or resume an endpoint, or rotate its secret",
                ADMIN,
                body=content(
                    obj(
                        {},
                        {
                            "url": _URL,
                            "event_types": _TYPES,
                            "description": text(),
                            "active": {"type": "boolean"},
                            "rotate_secret": {"type": "boolean"},
                        },
                    )
                ),
            )
        ),
        "delete": op("Delete an endpoint (its pending deliveries end)", ADMIN),
    },
    "/api/webhooks/endpoints/{endpoint_id}/deliveries": {
        "get": op(
            "The endpoint's delivery log",
            ADMIN,
            query={"status": {"enum": ["pending", "delivered", "dead"]}, **_PAGE},
        )
    },
    "/api/webhooks/endpoints/{endpoint_id}/redeliver": {
        "post": op(
            "Send the events of a time range again",
            ADMIN,
            body=content(obj({"from_ms": MS, "to_ms": MS})),
            ok=202,
        )
    },
    "/api/webhooks/deliveries/{delivery_id}/attempts": {
        "get": op("A delivery's attempts with their status codes", ADMIN)
    },
    "/api/webhooks/events": {
        "get": op(
            "The brand's events (the outbox)",
            ADMIN,
            query={"type": text(32), "from_ms": MS, "to_ms": MS, **_PAGE},
        )
    },
    "/api/webhooks/events/{event_id}/redeliver": {
        "post": op(
            "Send one event again", ADMIN, body=content(obj({}, {"endpoint_id": ID})), ok=202
        )
    },
}
