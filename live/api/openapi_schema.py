"""Building blocks of the OpenAPI document (`live.api.openapi`): schemas of the request fields
with the limits the handlers enforce, and one op per route with its roles."""

from typing import Any

Schema = dict[str, Any]

HOSTS = ["host", "admin"]
ANYONE = ["viewer", "guide", "manager", "host", "admin"]
ID = {"type": "string", "minLength": 1, "maxLength": 64}
MS = {"type": "integer", "minimum": 0}


def integer(minimum: int, maximum: int = 2**53) -> Schema:
    """An integer within bounds."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def text(max_chars: int = 200) -> Schema:
    """A non-empty string of at most ``max_chars``."""
    return {"type": "string", "minLength": 1, "maxLength": max_chars}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """A JSON object with ``required`` and ``optional`` fields."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


def op(
    summary: str,
    roles: list[str] | None,
    *,
    body: Schema | None = None,
    query: dict[str, Schema] | None = None,
    headers: dict[str, Schema] | None = None,
    ok: int = 200,
    media: str = "application/json",
) -> Schema:
    """One operation: its summary, the roles allowed (None: anyone), body, query, headers and
    the status and media type of its success."""
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in (query or {}).items()
    ] + [
        {"name": name, "in": "header", "required": True, "schema": schema}
        for name, schema in (headers or {}).items()
    ]
    described: Schema = {
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
        described["x-roles"] = roles
        described["security"] = [{"bearer": []}]
    if body is not None:
        described["requestBody"] = {"required": True, "content": {"application/json": body}}
    return described


def content(schema: Schema) -> Schema:
    """A JSON request body of ``schema``."""
    return {"schema": schema}


PRODUCT = obj(
    {
        "sku": text(64),
        "title": text(),
        "price_cents": integer(0),
        "stock": integer(0, 10**7),
    },
    {
        "limit_per_viewer": integer(1),
        "commission_bp": integer(0, 10_000),
        "image_url": text(1000),
        "variant_of": ID,
        "options": {
            "type": "object",
            "maxProperties": 4,
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 40},
        },
    },
)
#: An image upload: the image itself as the body.
IMAGE_BODY = {
    "required": True,
    "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in ("image/png", "image/jpeg", "image/webp")
    },
}
COUPON = obj(
    {
        "title": text(),
        "kind": {"enum": ["amount_off", "percent_off"]},
        "value": integer(1),
        "quantity": integer(1, 10**7),
    },
    {
        "min_spend_cents": integer(0),
        "per_viewer_limit": integer(1),
        "expires_in_s": integer(1, 86_400),
    },
)
SALE = obj(
    {
        "product_id": ID,
        "sale_price_cents": integer(0),
        "stock_cap": integer(1, 10**7),
    },
    {
        "starts_at": MS,
        "starts_in_s": integer(0, 86_400),
        "ends_at": MS,
        "duration_s": integer(1, 86_400),
        "per_viewer_limit": integer(1),
    },
)
CLIP = obj({"product_id": ID, "from_ms": MS, "to_ms": MS}, {"title": text()})
ORDER_LIST_QUERY = {
    "cursor": {"type": "string"},
    "limit": integer(1, 10_000),
    "session_id": {"type": "string"},
    "status": {"type": "string"},
    "from_ms": MS,
    "to_ms": MS,
    "format": {"enum": ["json", "csv"]},
}
NAME = obj({"name": text()})
IDEMPOTENCY = {"Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 200}}
