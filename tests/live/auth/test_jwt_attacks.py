"""The JWT attack set, one table, against the real app: every forged, stale or incomplete token is
refused with a catalog code on HTTP and on the room socket; the control row gets in."""

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import ConnectionClosed

from tests.support.clients import Room
from tests.support.servers import SECRET, LiveServer
from tests.support.sessions import OpenSession, open_session

_RSA = rsa.generate_private_key(public_exponent=65_537, key_size=2048)
_PUBLIC_PEM = _RSA.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token assembled by hand, so no library refuses to build the attack."""
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{_b64(signature)}"


def _claims(tenant: str, /, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "attacker",
        "role": "viewer",
        "brand": tenant,
        "exp": int(time.time()) + 600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _hs256(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


Attack = Callable[[str], str]
NOW = int(time.time())

ATTACKS: list[tuple[str, Attack, str]] = [
    ("valid control", lambda b: _hs256(_claims(b)), "ok"),
    ("alg none", lambda b: _raw({"alg": "none", "typ": "JWT"}, _claims(b), None), "token_invalid"),
    ("alg None", lambda b: _raw({"alg": "None", "typ": "JWT"}, _claims(b), None), "token_invalid"),
    (
        "HS256 keyed with the public key",
        lambda b: _raw({"alg": "HS256", "typ": "JWT"}, _claims(b), _PUBLIC_PEM),
        "token_invalid",
    ),
    ("RS256 header", lambda b: jwt.encode(_claims(b), _RSA, algorithm="RS256"), "token_invalid"),
    (
        "HS512 with the right secret",
        lambda b: jwt.encode(_claims(b), SECRET + "-" * 40, algorithm="HS512"),
        "token_invalid",
    ),
    ("expired", lambda b: _hs256(_claims(b, exp=NOW - 120)), "token_expired"),
    ("not yet valid (nbf)", lambda b: _hs256(_claims(b, nbf=NOW + 3600)), "token_invalid"),
    ("issued in the future (iat)", lambda b: _hs256(_claims(b, iat=NOW + 3600)), "token_invalid"),
    ("exp not a number", lambda b: _hs256(_claims(b, exp="tomorrow")), "token_invalid"),
    ("wrong brand", lambda _b: _hs256(_claims("some-other-brand")), "not_found"),
    ("missing sub", lambda b: _hs256(_claims(b, sub=None)), "token_invalid"),
    ("missing brand", lambda _b: _hs256(_claims("x", brand=None)), "token_invalid"),
    ("missing exp", lambda b: _hs256(_claims(b, exp=None)), "token_invalid"),
    ("missing role", lambda b: _hs256(_claims(b, role=None)), "token_invalid"),
    ("unknown role", lambda b: _hs256(_claims(b, role="root")), "token_invalid"),
    ("empty sub", lambda b: _hs256(_claims(b, sub="")), "token_invalid"),
    ("brand not a string", lambda _b: _hs256(_claims("x", brand=["a", "b"])), "token_invalid"),
    (
        "signed with another secret",
        lambda b: jwt.encode(_claims(b), "not-the-secret-" * 4, algorithm="HS256"),
        "token_invalid",
    ),
    (
        "signature of other claims",
        lambda b: _splice(_hs256(_claims(b)), _hs256(_claims(b, role="admin"))),
        "token_invalid",
    ),
    ("signature cut off", lambda b: _hs256(_claims(b)).rsplit(".", 1)[0] + ".", "token_invalid"),
    ("garbage", lambda _b: "not.a.token", "token_invalid"),
    ("long garbage", lambda _b: "A" * 4_000, "token_invalid"),
    ("sha256 of nothing", lambda _b: hashlib.sha256(b"").hexdigest(), "token_invalid"),
]


def _splice(signed: str, claims_from: str) -> str:
    """``claims_from``'s claims under ``signed``'s signature (privilege escalation)."""
    return claims_from.rsplit(".", 1)[0] + "." + signed.rsplit(".", 1)[1]


_HTTP_STATUS = {"ok": 200, "token_invalid": 401, "token_expired": 401, "not_found": 404}
_CLOSE = {"token_invalid": 4001, "token_expired": 4001, "not_found": 4004}


@pytest.fixture
async def opened(server: LiveServer) -> OpenSession:
    """A live session of the server's brand."""
    return await open_session(server)


@pytest.mark.parametrize(("attack", "forge", "code"), ATTACKS, ids=[a[0] for a in ATTACKS])
async def test_token_attack_is_refused_on_http_and_socket(
    server: LiveServer, opened: OpenSession, attack: str, forge: Attack, code: str
) -> None:
    """Each attack gets its catalog code over HTTP and the socket; only the control gets in."""
    token = forge(server.brand)
    async with server.client(token) as client:
        answer = await client.get(f"/api/sessions/{opened.session_id}")
    assert answer.status_code == _HTTP_STATUS[code], (attack, answer.text)
    if code != "ok":
        assert answer.json()["error"]["code"] == code, attack
    room = await Room.join(server.ws_url(opened.session_id, token))
    if code == "ok":
        assert (await room.next_frame())["type"] == "snapshot"
        await room.close()
        return
    first = await room.next_frame()
    with pytest.raises(ConnectionClosed) as closed:
        await room.next_frame()
    assert (first["type"], first["code"]) == ("error", code), attack
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == _CLOSE[code], attack
