"""Role x action x brand, one table: every HTTP endpoint and the room socket, called by each role
of the owning brand and of another brand. Allowed roles get through, other roles get 403,
another brand gets 404 on the owner's resources and never sees or changes the owner's data."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tests.live.api.owner_world import owner_world
from tests.support.clients import Room
from tests.support.servers import LiveServer

ROLES = ("viewer", "guide", "manager", "host", "admin")
ANY = frozenset(ROLES)
HOSTS = frozenset({"host", "admin"})
#: A marker written only by the other brand: it must never show up in the owner's reads.
INTRUDER = "intruder-name"


@dataclass(frozen=True)
class Action:
    """One endpoint: who may call it, and whether its target is a resource of the owner brand
    (another brand gets 404) or the caller's own brand (``/me``-style: another brand acts on
    its own data, and the answer must not mention the owner's)."""

    method: str
    path: str
    allowed: frozenset[str]
    scope: str = "resource"
    body: Any = None


ACTIONS = [
    Action("POST", "/api/sessions", HOSTS, "brand", {"title": "t"}),
    Action("GET", "/api/sessions", frozenset({"host", "admin", "guide"}), "brand"),
    Action("GET", "/api/sessions/{live}/stats", HOSTS),
    Action("GET", "/api/sessions/{live}", ANY),
    Action("WS", "/ws/sessions/{live}", ANY),
    Action(
        "POST",
        "/api/sessions/{live}/products",
        HOSTS,
        body={"sku": "S9", "title": "Hat", "price_cents": 100, "stock": 5},
    ),
    Action("PATCH", "/api/sessions/{live}/products/{product}", HOSTS, body={"price_cents": 99}),
    Action("POST", "/api/sessions/{live}/start", HOSTS),
    Action("POST", "/api/sessions/{live}/pin", HOSTS, body={"product_id": "{product}"}),
    Action("DELETE", "/api/sessions/{live}/pin", HOSTS),
    Action(
        "POST",
        "/api/sessions/{live}/coupons",
        HOSTS,
        body={"title": "5 off", "kind": "amount_off", "value": 500, "quantity": 10},
    ),
    Action("GET", "/api/sessions/{live}/leaderboard", HOSTS),
    Action(
        "POST",
        "/api/sessions/{live}/orders",
        frozenset({"viewer"}),
        body={"product_id": "{product}", "qty": 1},
    ),
    Action("GET", "/api/orders/{order}", frozenset({"viewer", "admin"})),
    Action("POST", "/api/orders/{order}/refund", frozenset({"admin"})),
    Action("POST", "/api/orders/{cancel_order}/cancel", frozenset({"viewer", "host", "admin"})),
    Action(
        "POST",
        "/api/sessions/{live}/sales",
        HOSTS,
        body={"product_id": "{product}", "sale_price_cents": 50, "stock_cap": 1, "duration_s": 60},
    ),
    Action("POST", "/api/sessions/{live}/sales/{sale}/close", HOSTS),
    Action("GET", "/api/guides/me/share?session_id={live}", frozenset({"guide"})),
    Action("GET", "/api/guides/me/share.png?session_id={live}", frozenset({"guide"})),
    Action("GET", "/api/guides/me/orders", frozenset({"guide"}), "brand"),
    Action("GET", "/api/guides/me/summary", frozenset({"guide"}), "brand"),
    Action("GET", "/api/guides/orders", frozenset({"manager", "admin"}), "brand"),
    Action(
        "POST", "/api/sessions/{live}/moderation", HOSTS, body={"action": "mute", "user_id": "x"}
    ),
    Action("DELETE", "/api/sessions/{live}/comments/1", HOSTS),
    Action("POST", "/api/sessions/{live}/messages", HOSTS, body={"user_id": "x", "text": "hi"}),
    Action("POST", "/api/sessions/{live}/draws", HOSTS, body={"winners": 1, "duration_s": 60}),
    Action("POST", "/api/sessions/{live}/draws/{draw}/close", HOSTS),
    Action("GET", "/api/brands/me/attribution", frozenset({"admin", "guide"}), "brand"),
    Action(
        "PUT", "/api/brands/me/attribution", frozenset({"admin"}), "brand", {"kind": "last_touch"}
    ),
    Action("GET", "/api/brands/me/commission", frozenset({"admin", "guide"}), "brand"),
    Action(
        "PUT",
        "/api/brands/me/commission",
        frozenset({"admin"}),
        "brand",
        {"rate_bp": 100, "upstream_rate_bp": 10},
    ),
    Action("GET", "/api/brands/me/policy", frozenset({"admin", "host"}), "brand"),
    Action(
        "PUT",
        "/api/brands/me/policy",
        frozenset({"admin"}),
        "brand",
        {"banned_words": ["{marker}"], "banned_mode": "mask", "allowed_origins": []},
    ),
    Action("GET", "/api/org/brand", frozenset({"admin"}), "brand"),
    Action("PUT", "/api/org/brand", frozenset({"admin"}), "brand", {"name": "{marker}"}),
    Action("GET", "/api/org/stores", frozenset({"admin"}), "brand"),
    Action("PUT", "/api/org/stores/{store}", frozenset({"admin"}), "brand", {"name": "{marker}"}),
    Action("GET", "/api/org/guides", frozenset({"admin"}), "brand"),
    Action("GET", "/api/org/guides/{guide}", frozenset({"admin", "guide"})),
    Action("PUT", "/api/org/guides/{guide}", frozenset({"admin"}), "brand", {"name": "{marker}"}),
    Action(
        "POST",
        "/api/org/import",
        frozenset({"admin"}),
        "brand",
        "kind,id,name,store_id,upstream_guide_id,active\nstore,{store},{marker},,,\n",
    ),
    Action("GET", "/api/sessions/{ended}/replay", ANY),
    Action("GET", "/api/sessions/{ended}/clips", ANY),
    Action("GET", "/api/sessions/{ended}/clips/{clip}", ANY),
    Action(
        "POST",
        "/api/sessions/{ended}/clips",
        HOSTS,
        body={"product_id": "{ended_product}", "from_ms": 0, "to_ms": 10},
    ),
    Action("PATCH", "/api/sessions/{ended}/clips/{clip}", HOSTS, body={"title": "Closer"}),
    Action(
        "GET",
        "/api/sessions/{ended}/clips/{clip}/stats",
        frozenset({"host", "admin", "guide", "manager"}),
    ),
    Action(
        "POST", "/api/sessions/{ended}/clips/{clip}/orders", frozenset({"viewer"}), body={"qty": 1}
    ),
    Action("GET", "/api/sessions/{ended}/archive/bundle", frozenset({"admin"})),
    Action("POST", "/api/sessions/{doomed}/end", HOSTS),
    # Last: it makes the ended session's archive answer 410 from then on.
    Action("DELETE", "/api/sessions/{ended}/archive", frozenset({"admin"})),
]


def _tokens(node: LiveServer, brand: str, store: str, guide: str) -> dict[str, str]:
    claims: dict[str, dict[str, str]] = {"guide": {"store": store}, "manager": {"store": store}}
    subs = {"viewer": "viewer-1", "guide": guide, "manager": "mgr", "host": "host-1", "admin": "a"}
    return {
        role: node.token(role, subs[role], brand=brand, **claims.get(role, {})) for role in ROLES
    }


def _fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {key: _fill(value, ids) for key, value in template.items()}
    return template


async def _call(
    node: LiveServer,
    clients: dict[str, httpx.AsyncClient],
    token: str,
    action: Action,
    ids: dict[str, str],
    *,
    stranger: bool,
) -> int:
    """The HTTP status (the room socket's refusal mapped onto the same statuses)."""
    ids = {**ids, "marker": INTRUDER if stranger else "Owner renamed"}
    path = _fill(action.path, ids)
    if action.method == "WS":
        room = await Room.join(node.ws_url(ids["live"], token))
        first = await room.next_frame()
        await room.close()
        return {"snapshot": 200, "not_found": 404}.get(first.get("type", ""), 0) or {
            "not_found": 404,
            "forbidden": 403,
        }.get(str(first.get("code")), 500)
    body = _fill(action.body, ids)
    options: dict[str, Any] = {"headers": {"Idempotency-Key": uuid.uuid4().hex}}
    if isinstance(body, str):
        options["content"] = body.encode()
    elif body is not None:
        options["content"] = orjson.dumps(body)
    client = clients.get(token) or clients.setdefault(token, node.client(token))
    answer = await client.request(action.method, path, **options)
    assert answer.status_code < 500, (action.method, path, answer.text)
    if stranger and answer.status_code < 300:
        # The other brand's tokens reuse the store and guide ids (names are per brand): look
        # for the owner's resources and names instead.
        owned = [v for k, v in ids.items() if k not in {"store", "guide", "marker"}]
        for value in [*owned, "Owner store", "Owner guide", "Owner renamed"]:
            assert value not in answer.text, (action.method, path, "leaks", value)
    return answer.status_code


async def test_role_action_brand_matrix(server: LiveServer) -> None:
    """Each (role, action, brand) cell: allowed, 403 or 404, as the table says."""
    node = server  # the owner brand is this node's
    ids = await owner_world(node)
    other = f"other-{uuid.uuid4().hex[:6]}"
    tokens = {
        "own": _tokens(node, node.brand, ids["store"], ids["guide"]),
        "other": _tokens(node, other, ids["store"], ids["guide"]),
    }
    wrong: list[str] = []
    clients: dict[str, httpx.AsyncClient] = {}
    cells = 0
    for action in ACTIONS:
        # Refusals first, so an allowed call that changes state (end, delete) comes after them.
        order = [(b, r) for b in ("other", "own") for r in ROLES]
        order.sort(key=lambda cell: cell[0] == "own" and cell[1] in action.allowed)
        for brand, role in order:
            status = await _call(
                node, clients, tokens[brand][role], action, ids, stranger=brand == "other"
            )
            cells += 1
            if role not in action.allowed:
                expected = "403"
            elif brand == "own" or action.scope == "brand":
                expected = "allowed"
            else:
                expected = "404"
            got = "allowed" if status < 400 or status in {409, 410} else str(status)
            if got != expected:
                wrong.append(f"{brand} {role} {action.method} {action.path}: {status} ({expected})")
    for client in clients.values():
        await client.aclose()
    assert not wrong, "\n".join(wrong)
    assert cells == len(ACTIONS) * len(ROLES) * 2
    await _owner_data_untouched(node, ids)


async def _owner_data_untouched(node: LiveServer, ids: dict[str, str]) -> None:
    """What the other brand's admin wrote to its own brand never reached the owner's."""
    async with node.client(node.token("admin", "a")) as admin:
        for path in (
            "/api/org/brand",
            "/api/org/stores",
            "/api/org/guides",
            f"/api/org/guides/{ids['guide']}",
            "/api/brands/me/policy",
        ):
            answer = await admin.get(path)
            assert answer.status_code == 200, answer.text
            assert INTRUDER not in answer.text, path
