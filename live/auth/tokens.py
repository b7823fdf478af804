"""Tokens: HS256 JWTs with ``sub``, ``role``, ``brand``, ``exp`` and optional ``name``/``store``.

The brand's own backend mints them after its login; `mint` exists for development and tests.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from common.errors import ClientError, Code
from live.auth import hs256

ALGORITHM = hs256.ALGORITHM
REQUIRED_CLAIMS = ("exp", "sub", "brand")


class Role(StrEnum):
    """Who a token speaks for."""

    HOST = "host"
    VIEWER = "viewer"
    GUIDE = "guide"
    #: A store manager: sees the guides of the store named by the token's ``store`` claim.
    MANAGER = "manager"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified identity behind a request or socket."""

    sub: str
    role: Role
    brand: str
    name: str | None = None
    store: str | None = None


def mint(
    secret: str,
    *,
    sub: str,
    role: Role | str,
    brand: str,
    ttl_s: int = 3600,
    name: str | None = None,
    store: str | None = None,
) -> str:
    """Sign a token valid for ``ttl_s`` seconds."""
    claims: dict[str, Any] = {
        "sub": sub,
        "role": Role(role).value,
        "brand": brand,
        "exp": int(time.time()) + ttl_s,
    }
    if name is not None:
        claims["name"] = name
    if store is not None:
        claims["store"] = store
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


#: Tokens verified recently, with their expiry: a viewer's token is checked when it joins the
#: room, then again on every claim, order and poll; the signature check is the largest cost of
#: a refused order attempt after the HTTP stack itself (docs/benchmarks.md).
_verified: "OrderedDict[tuple[str, str], tuple[Principal, float]]" = OrderedDict()
VERIFIED_CACHE_SIZE = 65_536


def verify(token: str, secret: str, *, clock: Callable[[], float] = time.time) -> Principal:
    """Check signature and expiry; raise `ClientError` (token_expired / token_invalid).

    A token that passed is remembered until its ``exp`` (at most `VERIFIED_CACHE_SIZE`
    tokens, least recently used first out): the same token again is answered without
    decoding it, and after its ``exp`` it is decoded again, so it is refused as expired.
    Expiry is judged against ``clock`` (Unix seconds; tests pass one they move by hand).
    """
    key = (secret, token)
    hit = _verified.get(key)
    if hit is not None and clock() < hit[1]:
        _verified.move_to_end(key)
        return hit[0]
    principal, expires = _decode(token, secret, clock)
    _verified[key] = (principal, expires)
    while len(_verified) > VERIFIED_CACHE_SIZE:
        _verified.popitem(last=False)
    return principal


def _decode(token: str, secret: str, clock: Callable[[], float]) -> tuple[Principal, float]:
    try:
        claims = hs256.decode(token, secret, required=REQUIRED_CLAIMS, clock=clock)
    except hs256.TokenExpired:
        raise ClientError(Code.TOKEN_EXPIRED, "the token has expired") from None
    except hs256.TokenRefused as exc:
        raise ClientError(Code.TOKEN_INVALID, f"the token is not valid: {exc}") from None
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise ClientError(Code.TOKEN_INVALID, "the token's role is not known") from None
    sub, brand = claims["sub"], claims["brand"]
    if not isinstance(sub, str) or not isinstance(brand, str) or not sub or not brand:
        raise ClientError(Code.TOKEN_INVALID, "sub and brand must be non-empty strings")
    name, store = claims.get("name"), claims.get("store")
    principal = Principal(
        sub=sub,
        role=role,
        brand=brand,
        name=name if isinstance(name, str) else None,
        store=store if isinstance(store, str) else None,
    )
    return principal, float(claims["exp"])


def require(principal: Principal, *roles: Role) -> Principal:
    """Let ``principal`` through only with one of ``roles``."""
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise ClientError(Code.FORBIDDEN, f"this needs the role {allowed}")
    return principal
