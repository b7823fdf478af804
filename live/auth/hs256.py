"""Verifying HS256 JWTs: PyJWT's checks, in one pass, for one algorithm and one secret.

Why not ``jwt.decode``: for the one algorithm this server accepts it spends most of its time
on generality (an algorithm registry, key preparation that looks for PEM and SSH keys in the
secret, option merging, the standard library's JSON decoder): about 50 us per token on this
machine, where this module needs about 12 (docs/benchmarks.md, "Flash-sale admission").
PyJWT still mints tokens (`live.auth.tokens.mint`), and the tests check that this module accepts and
refuses what ``jwt.decode(token, secret, algorithms=["HS256"], options={"require": [...]})``
accepts and refuses (``tests/live/auth/test_hs256.py``).

Contract, in PyJWT 2.15's order, so that which error a token gets is the same:

1. three base64url segments, each in canonical form (trailing ``=`` padding allowed as PyJWT
   allows it), the header and the claims JSON objects;
2. the header: ``kid``, when present, a string; ``crit`` refused (PyJWT understands only
   ``b64``, whose unencoded payloads this server never takes); ``alg`` exactly ``HS256``;
3. the HMAC-SHA256 of the first two segments under the secret, compared in constant time;
4. the claims: each ``required`` claim present and not null; ``iat`` and ``nbf``, when
   present, integers not in the future; ``exp``, when present, an integer in the future
   (else `TokenExpired`); ``aud`` absent or empty (no audience is expected); ``sub`` and
   ``jti``, when present, strings.

The JSON decoder is orjson, which is stricter than PyJWT's on input no minter makes: NaN and
Infinity literals and text in UTF-16 or UTF-32 are refused here; an integer beyond 64 bits is
read as a float (a claim's value then differs from PyJWT's in its last digits).
"""

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

ALGORITHM = "HS256"

_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


class TokenRefused(ValueError):
    """The token is malformed, forged, not yet valid, or has a claim of the wrong kind."""


class TokenExpired(TokenRefused):
    """The token is genuine but its ``exp`` has passed."""


def decode(
    token: str,
    secret: str,
    *,
    required: Iterable[str] = (),
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The claims of ``token`` once every check of the contract has passed; ``iat``, ``nbf``
    and ``exp`` are judged against ``clock`` (Unix seconds; tests pass one they move)."""
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise TokenRefused("the token is not base64url text") from None
    signing_input, _, signature_segment = raw.rpartition(b".")
    header_segment, dot, claims_segment = signing_input.partition(b".")
    if not dot:
        raise TokenRefused("not enough segments")
    header = _object(_segment(header_segment, "header"), "header")
    claims_json = _segment(claims_segment, "payload")
    signature = _segment(signature_segment, "signature")
    _check_header(header)
    expected = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise TokenRefused("signature verification failed")
    claims = _object(claims_json, "payload")
    _check_claims(claims, required, clock())
    return claims


def _segment(segment: bytes, name: str) -> bytes:
    """A base64url segment decoded, refused unless in canonical form."""
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4) or len(stripped) % 4 == 1:
        raise TokenRefused(f"invalid {name} padding")
    if not _BASE64URL.fullmatch(stripped):
        raise TokenRefused(f"invalid {name} padding")
    decoded = base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
    # Leftover bits in the last character would let several texts carry one value.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != stripped:
        raise TokenRefused(f"invalid {name} padding")
    return decoded


def _object(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise TokenRefused(f"invalid {name} string") from None
    if not isinstance(value, dict):
        raise TokenRefused(f"invalid {name} string: must be a json object")
    return value


def _check_header(header: dict[str, Any]) -> None:
    if "kid" in header and not isinstance(header["kid"], str):
        raise TokenRefused("key ID header parameter must be a string")
    if "crit" in header:
        raise TokenRefused("critical header extensions are not supported")
    if header.get("b64", True) is False:
        raise TokenRefused("unencoded payloads are not supported")
    if header.get("alg") != ALGORITHM:
        raise TokenRefused("the specified alg value is not allowed")


def _check_claims(claims: dict[str, Any], required: Iterable[str], now: float) -> None:
    for claim in required:
        if claims.get(claim) is None:
            raise TokenRefused(f'token is missing the "{claim}" claim')
    if "iat" in claims and _integer(claims["iat"], "iat") > now:
        raise TokenRefused("the token is not yet valid (iat)")
    if "nbf" in claims and _integer(claims["nbf"], "nbf") > now:
        raise TokenRefused("the token is not yet valid (nbf)")
    if "exp" in claims and _integer(claims["exp"], "exp") <= now:
        raise TokenExpired("signature has expired")
    if claims.get("aud"):
        raise TokenRefused("invalid audience")
    if "sub" in claims and not isinstance(claims["sub"], str):
        raise TokenRefused("subject must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise TokenRefused("JWT ID must be a string")


def _integer(value: Any, name: str) -> int:
    # PyJWT's own test: whatever int() takes (so "123" and 1.5 pass, as there).
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        raise TokenRefused(f"{name} must be an integer") from None
