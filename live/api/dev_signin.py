"""Development sign-in: mints a token for whoever asks, and only when ``LIVE_DEV_SIGNIN=1``.

A brand's own backend signs its users' tokens after its login. `live demo` (and a developer on
a laptop) has no such backend, so the pages may ask the server itself for a token. Anyone who
can reach the endpoint becomes any user of any brand: it is off unless the setting is on.
"""

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth import tokens
from live.auth.tokens import Role

DEFAULT_BRAND = "demo"
TOKEN_TTL_S = 12 * 3600


async def sign_in(request: Request) -> JSON:
    """``POST /api/dev/signin`` {role, sub, name?, store?, brand?} -> {token, ...}."""
    settings = req.context(request).settings
    if not settings.dev_signin:
        raise ClientError(
            Code.NOT_FOUND,
            "development sign-in is off on this server (LIVE_DEV_SIGNIN=1 turns it on); "
            "sign in through your brand's backend",
        )
    body = await req.json_object(request)
    raw_role = body.get("role")
    if raw_role not in {role.value for role in Role}:
        raise ClientError(
            Code.INVALID_REQUEST, "role must be one of host, viewer, guide, manager, admin"
        )
    sub = req.text(body, "sub", max_chars=64)
    brand = req.optional_text(body, "brand", max_chars=64) or DEFAULT_BRAND
    name = req.optional_text(body, "name", max_chars=64)
    store = req.optional_text(body, "store", max_chars=64)
    token = tokens.mint(
        settings.secret,
        sub=sub,
        role=raw_role,
        brand=brand,
        ttl_s=TOKEN_TTL_S,
        name=name,
        store=store,
    )
    return JSON(
        {
            "token": token,
            "sub": sub,
            "role": raw_role,
            "brand": brand,
            "name": name,
            "store": store,
            "expires_in_s": TOKEN_TTL_S,
        }
    )


routes = [Route("/api/dev/signin", sign_in, methods=["POST"])]
