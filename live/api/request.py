"""Reading requests: the caller's token, the JSON body and its fields, with catalog errors."""

from typing import Any

from starlette.requests import HTTPConnection, Request

from common import codec
from common.errors import ClientError, Code
from live.auth import tokens
from live.auth.tokens import Principal, Role
from live.context import Context
from realtime.protocol import IDEMPOTENCY_KEY

MAX_BODY_BYTES = 65_536


def context(connection: HTTPConnection) -> Context:
    """The app's `Context`."""
    ctx: Context = connection.app.state.ctx
    return ctx


def principal(connection: HTTPConnection, *roles: Role) -> Principal:
    """The verified bearer of the request, required to have one of ``roles``."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ClientError(Code.UNAUTHORIZED, "send Authorization: Bearer <token>")
    caller = tokens.verify(token.strip(), context(connection).settings.secret)
    return tokens.require(caller, *roles) if roles else caller


def idempotency_key(request: Request) -> str:
    """The required ``Idempotency-Key`` header of an order request."""
    key = request.headers.get("idempotency-key", "")
    if not key:
        raise ClientError(Code.IDEMPOTENCY_KEY_REQUIRED, "send an Idempotency-Key header")
    if not IDEMPOTENCY_KEY.match(key):
        raise ClientError(
            Code.INVALID_REQUEST, "Idempotency-Key: 1-128 characters of A-Z a-z 0-9 . _ : -"
        )
    return key


async def raw_body(request: Request) -> bytes:
    """The body, refused above `MAX_BODY_BYTES`."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ClientError(Code.FRAME_TOO_LARGE, f"bodies are limited to {MAX_BODY_BYTES} bytes")
    return body


def parse_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body."""
    try:
        value = codec.decode(body or b"{}")
    except codec.JSONDecodeError:
        raise ClientError(Code.INVALID_JSON, "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ClientError(Code.INVALID_REQUEST, "the body must be a JSON object")
    return value


async def json_object(request: Request) -> dict[str, Any]:
    """The JSON object body of ``request``."""
    return parse_object(await raw_body(request))


def text(body: dict[str, Any], name: str, *, max_chars: int = 200) -> str:
    """A required non-empty string field."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ClientError(Code.INVALID_REQUEST, f"{name} must be a non-empty string")
    if len(value) > max_chars:
        raise ClientError(Code.INVALID_REQUEST, f"{name} is limited to {max_chars} characters")
    return value.strip()


def optional_text(body: dict[str, Any], name: str, *, max_chars: int = 200) -> str | None:
    """An optional string field (absent or null gives None)."""
    if body.get(name) is None:
        return None
    return text(body, name, max_chars=max_chars)


def integer(body: dict[str, Any], name: str, *, minimum: int, maximum: int = 2**53) -> int:
    """A required integer field within ``minimum..maximum``."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClientError(Code.INVALID_REQUEST, f"{name} must be an integer")
    if not minimum <= value <= maximum:
        raise ClientError(Code.INVALID_REQUEST, f"{name} must be within {minimum}..{maximum}")
    return value


def optional_integer(
    body: dict[str, Any], name: str, *, minimum: int, maximum: int = 2**53
) -> int | None:
    """An optional integer field (absent or null gives None)."""
    if body.get(name) is None:
        return None
    return integer(body, name, minimum=minimum, maximum=maximum)


def query_integer(
    request: HTTPConnection, name: str, *, minimum: int, maximum: int = 2**53
) -> int | None:
    """An optional integer query parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ClientError(Code.INVALID_REQUEST, f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise ClientError(Code.INVALID_REQUEST, f"{name} must be within {minimum}..{maximum}")
    return value
