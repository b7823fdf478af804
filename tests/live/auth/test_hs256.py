"""`live.auth.hs256` accepts and refuses what PyJWT's ``jwt.decode`` accepts and refuses, with the
same claims and the same kind of refusal (expired or not valid); where it is stricter, it is
stricter only on input no minter makes."""

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from live.auth import hs256

SECRET = "hs256-differential-secret-0123456789abcdef"
REQUIRED = ("exp", "sub", "brand")
NOW = int(time.time())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(header: dict[str, Any] | bytes, claims: dict[str, Any] | bytes, key: str) -> str:
    """A token assembled by hand, so that no library refuses to build it."""
    head = header if isinstance(header, bytes) else orjson.dumps(header)
    body = claims if isinstance(claims, bytes) else orjson.dumps(claims)
    signing_input = f"{_b64(head)}.{_b64(body)}"
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _pyjwt(token: str) -> tuple[str, dict[str, Any] | None]:
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": [*REQUIRED]})
    except jwt.ExpiredSignatureError:
        return "expired", None
    except jwt.InvalidTokenError:
        return "invalid", None
    return "ok", claims


def _ours(token: str) -> tuple[str, dict[str, Any] | None]:
    try:
        claims = hs256.decode(token, SECRET, required=REQUIRED)
    except hs256.TokenExpired:
        return "expired", None
    except hs256.TokenRefused:
        return "invalid", None
    return "ok", claims


def _unused_bit_set(last: str) -> str:
    """``last``, the final character of a 32-byte MAC's 43, with its lowest bit flipped: that
    bit carries no data (43 * 6 = 258 bits for 256), so the text decodes to the same MAC."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(last) ^ 1]


HEADER = {"alg": "HS256", "typ": "JWT"}
CLAIMS = {"sub": "v1", "brand": "b", "role": "viewer", "exp": NOW + 3600}
GOOD = _signed(HEADER, CLAIMS, SECRET)
HEAD, BODY, MAC = GOOD.split(".")

TOKENS: dict[str, str] = {
    "valid": GOOD,
    "minted by PyJWT": jwt.encode(CLAIMS, SECRET, algorithm="HS256"),
    "padded segments": f"{HEAD}{'=' * (-len(HEAD) % 4)}.{BODY}.{MAC}{'=' * (-len(MAC) % 4)}",
    "too much padding": f"{HEAD}===.{BODY}.{MAC}",
    # The signature's padding is not signed: only the padding rules can refuse these two.
    "five padding characters on the signature": f"{HEAD}.{BODY}.{MAC}=====",
    "padding that leaves the signature unaligned": f"{HEAD}.{BODY}.{MAC}==",
    "padding on an unaligned segment": f"{HEAD}=.{BODY}.{MAC}",
    "non-canonical last character": f"{HEAD}.{BODY}.{MAC[:-1]}{_unused_bit_set(MAC[-1])}",
    "one character too many": f"{HEAD}.{BODY}.{MAC}A",
    "standard base64 alphabet": f"{HEAD}.{BODY.replace('-', '+').replace('_', '/')}.{MAC}",
    "junk in a segment": f"{HEAD}.{BODY}!.{MAC}",
    "non-ASCII": f"{HEAD}.{BODY}.{MAC}é",
    "two segments": f"{HEAD}.{BODY}",
    "four segments": f"{HEAD}.{BODY}.{MAC}.{MAC}",
    "one segment": HEAD,
    "empty": "",
    "dots only": "..",
    "no signature": f"{HEAD}.{BODY}.",
    "wrong secret": _signed(HEADER, CLAIMS, SECRET + "-other"),
    "alg none": _signed({"alg": "none"}, CLAIMS, SECRET),
    "alg HS512": _signed({"alg": "HS512"}, CLAIMS, SECRET),
    "alg hs256": _signed({"alg": "hs256"}, CLAIMS, SECRET),
    "alg a list": _signed({"alg": ["HS256"]}, CLAIMS, SECRET),
    "no alg": _signed({"typ": "JWT"}, CLAIMS, SECRET),
    "kid a string": _signed({**HEADER, "kid": "k1"}, CLAIMS, SECRET),
    "kid a number": _signed({**HEADER, "kid": 1}, CLAIMS, SECRET),
    "b64 false": _signed({**HEADER, "b64": False, "crit": ["b64"]}, CLAIMS, SECRET),
    "crit unknown": _signed({**HEADER, "crit": ["exp"]}, CLAIMS, SECRET),
    "header a list": _signed(b"[1]", CLAIMS, SECRET),
    "header not JSON": _signed(b"{alg", CLAIMS, SECRET),
    "claims a list": _signed(HEADER, b'["sub"]', SECRET),
    "claims not JSON": _signed(HEADER, b"sub=v1", SECRET),
    "expired": _signed(HEADER, {**CLAIMS, "exp": NOW - 60}, SECRET),
    "exp a numeric string": _signed(HEADER, {**CLAIMS, "exp": str(NOW + 60)}, SECRET),
    "exp a float": _signed(HEADER, {**CLAIMS, "exp": NOW + 60.5}, SECRET),
    "exp a word": _signed(HEADER, {**CLAIMS, "exp": "soon"}, SECRET),
    "exp null": _signed(HEADER, {**CLAIMS, "exp": None}, SECRET),
    "exp true": _signed(HEADER, {**CLAIMS, "exp": True}, SECRET),
    "iat in the future": _signed(HEADER, {**CLAIMS, "iat": NOW + 600}, SECRET),
    "iat in the past": _signed(HEADER, {**CLAIMS, "iat": NOW - 600}, SECRET),
    "iat a word": _signed(HEADER, {**CLAIMS, "iat": "then"}, SECRET),
    "nbf in the future": _signed(HEADER, {**CLAIMS, "nbf": NOW + 600}, SECRET),
    "nbf in the past": _signed(HEADER, {**CLAIMS, "nbf": NOW - 600}, SECRET),
    "expired and issued in the future": _signed(
        HEADER, {**CLAIMS, "exp": NOW - 60, "iat": NOW + 600}, SECRET
    ),
    "expired with an audience": _signed(HEADER, {**CLAIMS, "exp": NOW - 60, "aud": "x"}, SECRET),
    "audience": _signed(HEADER, {**CLAIMS, "aud": "someone"}, SECRET),
    "empty audience": _signed(HEADER, {**CLAIMS, "aud": ""}, SECRET),
    "sub a number": _signed(HEADER, {**CLAIMS, "sub": 7}, SECRET),
    "jti a number": _signed(HEADER, {**CLAIMS, "jti": 7}, SECRET),
    "jti a string": _signed(HEADER, {**CLAIMS, "jti": "j"}, SECRET),
    "no brand": _signed(HEADER, {"sub": "v1", "exp": NOW + 60}, SECRET),
    "brand null": _signed(HEADER, {**CLAIMS, "brand": None}, SECRET),
    "no sub": _signed(HEADER, {"brand": "b", "exp": NOW + 60}, SECRET),
}


@pytest.mark.parametrize("token", TOKENS.values(), ids=TOKENS.keys())
def test_the_same_answer_as_pyjwt(token: str) -> None:
    """Each hand-made token gets PyJWT's answer: the claims, expired, or not valid."""
    assert _ours(token) == _pyjwt(token)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
_TIME = st.integers(min_value=60, max_value=10**8).flatmap(
    lambda delta: st.sampled_from([NOW + delta, NOW - delta, str(NOW + delta), float(NOW - delta)])
)
_CLAIM = st.one_of(_TIME, _JSON)
_CLAIMS = st.dictionaries(
    st.sampled_from(["sub", "brand", "role", "exp", "iat", "nbf", "aud", "jti", "name"]),
    _CLAIM,
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "HS384", "none", "RS256", ""]) | _JSON,
        "typ": _JSON,
        "kid": _JSON,
        "b64": st.booleans(),
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(header=_HEADERS, claims=_CLAIMS, right_key=st.booleans())
def test_generated_tokens_get_pyjwt_answer(
    header: dict[str, Any], claims: dict[str, Any], right_key: bool
) -> None:
    """Any header and claims (without ``crit``), signed or not with the secret: PyJWT's answer."""
    token = _signed(header, claims, SECRET if right_key else SECRET + "x")
    assert _ours(token) == _pyjwt(token)


@settings(max_examples=400)
@given(
    position=st.integers(min_value=0, max_value=len(GOOD) - 1),
    # PyJWT raises UnicodeEncodeError on a lone surrogate: see the test after this one.
    char=st.characters(exclude_categories=["Cs"]),
)
def test_a_changed_character_gets_pyjwt_answer(position: int, char: str) -> None:
    """A valid token with one character replaced, or one inserted: PyJWT's answer."""
    for token in (
        GOOD[:position] + char + GOOD[position + 1 :],
        GOOD[:position] + char + GOOD[position:],
    ):
        assert _ours(token) == _pyjwt(token)


def test_a_lone_surrogate_is_refused() -> None:
    """Text that is not even UTF-8 is refused as not valid (PyJWT raises UnicodeEncodeError)."""
    assert _ours(GOOD[:10] + "\ud800" + GOOD[10:]) == ("invalid", None)


STRICTER = {
    "crit b64 with b64 true": _signed({**HEADER, "b64": True, "crit": ["b64"]}, CLAIMS, SECRET),
    "NaN in a claim": _signed(HEADER, orjson.dumps(CLAIMS)[:-1] + b',"x":NaN}', SECRET),
}


@pytest.mark.parametrize("token", STRICTER.values(), ids=STRICTER.keys())
def test_stricter_than_pyjwt_only_on_what_no_minter_makes(token: str) -> None:
    """``crit`` headers and NaN are refused here; PyJWT takes them."""
    assert _ours(token) == ("invalid", None)
    assert _pyjwt(token)[0] == "ok"
