"""Verified tokens are remembered until their ``exp``, per secret, and no longer."""

import time

import jwt
import pytest

from common.errors import ClientError, Code
from live.auth import tokens
from tests.support.clocks import HandClock

SECRET = "token-cache-secret-0123456789abcdef0123"


def test_a_remembered_token_still_expires() -> None:
    """Up to its ``exp`` a token is answered from the cache; from its ``exp`` on it is refused
    as expired, although it was remembered."""
    token = tokens.mint(SECRET, sub="v-exp", role="viewer", brand="b", ttl_s=60)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    clock = HandClock(time.time())
    principal = tokens.verify(token, SECRET, clock=clock)
    clock.now = exp - 0.001
    assert tokens.verify(token, SECRET, clock=clock) is principal  # answered from the cache
    clock.now = exp
    with pytest.raises(ClientError) as refused:
        tokens.verify(token, SECRET, clock=clock)
    assert refused.value.code == Code.TOKEN_EXPIRED


def test_a_token_remembered_under_one_secret_is_refused_under_another() -> None:
    """The cache is keyed by the secret too: a rotated secret refuses a remembered token."""
    token = tokens.mint(SECRET, sub="v-secret", role="viewer", brand="b")
    tokens.verify(token, SECRET)
    with pytest.raises(ClientError) as refused:
        tokens.verify(token, SECRET + "-rotated")
    assert refused.value.code == Code.TOKEN_INVALID


def test_refused_tokens_are_not_remembered() -> None:
    """A forged token is refused every time it comes, never answered from the cache."""
    token = tokens.mint(SECRET, sub="v-bad", role="viewer", brand="b")
    head, _, signature = token.rpartition(".")
    # The first signature character carries 6 whole bits: changing it always changes the MAC.
    forged = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    for _ in range(2):
        with pytest.raises(ClientError):
            tokens.verify(forged, SECRET)


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most `VERIFIED_CACHE_SIZE` tokens are remembered, the least recently used go first."""
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 50)
    minted = [tokens.mint(SECRET, sub=f"v{n}", role="viewer", brand="b") for n in range(80)]
    for token in minted:
        tokens.verify(token, SECRET)
    assert len(tokens._verified) <= 50
    # The oldest went first; the newest is still remembered.
    assert (SECRET, minted[0]) not in tokens._verified
    assert (SECRET, minted[-1]) in tokens._verified
