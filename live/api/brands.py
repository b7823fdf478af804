"""Brand admin endpoints: the live-room policy (banned words, allowed origins, page language)
and the commission plan."""

from starlette.requests import Request
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.db.unit import transaction
from live.guides import attribution, commission
from live.platform import languages
from live.platform.clock import now_ms
from live.sessions import room_rules
from realtime.wordfilter import Mode

#: Longest attribution window or protection period: a year.
MAX_SPAN_S = 365 * 86_400


def _strings(body: dict[str, object], name: str, *, limit: int, max_chars: int) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ClientError(Code.INVALID_REQUEST, f"{name} must be a list of strings")
    cleaned = [v.strip() for v in value if isinstance(v, str) and v.strip()]
    if len(cleaned) > limit or any(len(v) > max_chars for v in cleaned):
        raise ClientError(
            Code.INVALID_REQUEST, f"{name}: at most {limit} entries of {max_chars} characters"
        )
    return cleaned


async def get_policy(request: Request) -> JSON:
    """``GET /api/brands/me/policy`` (admin, host)."""
    caller = req.principal(request, Role.ADMIN, Role.HOST)
    policy = await req.context(request).policies.get(caller.brand)
    return JSON(policy.to_json())


async def put_policy(request: Request) -> JSON:
    """``PUT /api/brands/me/policy`` {banned_words, banned_mode, allowed_origins, language}
    (admin). ``language`` left out keeps the brand's; null clears it (the browser decides)."""
    caller = req.principal(request, Role.ADMIN)
    body = await req.json_object(request)
    policies = req.context(request).policies
    language = body.get("language", (await policies.read(caller.brand)).language)
    if language is not None and language not in languages.SUPPORTED:
        raise ClientError(
            Code.INVALID_REQUEST, f"language must be one of {', '.join(languages.SUPPORTED)}"
        )
    mode = body.get("banned_mode", Mode.MASK.value)
    if mode not in (Mode.MASK.value, Mode.REJECT.value):
        raise ClientError(Code.INVALID_REQUEST, "banned_mode must be mask or reject")
    origins = _strings(body, "allowed_origins", limit=room_rules.MAX_ORIGINS, max_chars=200)
    if any(not o.startswith(("https://", "http://")) for o in origins):
        raise ClientError(Code.INVALID_REQUEST, "origins look like https://shop.example.com")
    policy = room_rules.build(
        _strings(body, "banned_words", limit=room_rules.MAX_WORDS, max_chars=50),
        str(mode),
        origins,
        language,
    )
    await policies.put(caller.brand, policy, now_ms=now_ms())
    return JSON(policy.to_json())


async def get_commission(request: Request) -> JSON:
    """``GET /api/brands/me/commission`` (admin, guide): the brand's rates."""
    caller = req.principal(request, Role.ADMIN, Role.GUIDE)
    async with transaction(req.context(request).db) as db:
        plan = await commission.plan_of(db, caller.brand)
    return JSON(plan.to_json())


async def put_commission(request: Request) -> JSON:
    """``PUT /api/brands/me/commission`` {rate_bp, upstream_rate_bp} (admin)."""
    caller = req.principal(request, Role.ADMIN)
    body = await req.json_object(request)
    plan = commission.Plan(
        rate_bp=req.integer(body, "rate_bp", minimum=0, maximum=commission.BASIS_POINTS),
        upstream_rate_bp=req.integer(
            body, "upstream_rate_bp", minimum=0, maximum=commission.BASIS_POINTS
        ),
    )
    async with transaction(req.context(request).db) as db:
        await commission.set_plan(db, caller.brand, plan, now_ms=now_ms())
    return JSON(plan.to_json())


async def get_attribution(request: Request) -> JSON:
    """``GET /api/brands/me/attribution`` (admin, guide): the binding policy."""
    caller = req.principal(request, Role.ADMIN, Role.GUIDE)
    return JSON((await req.context(request).attribution.get(caller.brand)).to_json())


async def put_attribution(request: Request) -> JSON:
    """``PUT /api/brands/me/attribution`` (admin): the binding policy (see docs/attribution.md)."""
    caller = req.principal(request, Role.ADMIN)
    body = await req.json_object(request)
    kind = body.get("kind")
    if kind not in attribution.KINDS:
        raise ClientError(Code.INVALID_REQUEST, "kind must be last_touch or first_touch")
    flags = {}
    for name in ("extend_on_order", "new_customers_only"):
        value = body.get(name, False)
        if not isinstance(value, bool):
            raise ClientError(Code.INVALID_REQUEST, f"{name} must be true or false")
        flags[name] = value
    default = attribution.Policy()
    policy = attribution.Policy(
        kind=str(kind),
        window_s=req.optional_integer(body, "window_s", minimum=60, maximum=MAX_SPAN_S)
        or default.window_s,
        protection_s=req.optional_integer(body, "protection_s", minimum=60, maximum=MAX_SPAN_S)
        or default.protection_s,
        **flags,
    )
    await req.context(request).attribution.put(caller.brand, policy, now_ms=now_ms())
    return JSON(policy.to_json())


routes = [
    Route("/api/brands/me/attribution", get_attribution, methods=["GET"]),
    Route("/api/brands/me/attribution", put_attribution, methods=["PUT"]),
    Route("/api/brands/me/commission", get_commission, methods=["GET"]),
    Route("/api/brands/me/commission", put_commission, methods=["PUT"]),
    Route("/api/brands/me/policy", get_policy, methods=["GET"]),
    Route("/api/brands/me/policy", put_policy, methods=["PUT"]),
]
