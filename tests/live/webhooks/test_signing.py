"""Signatures: the server's signing and the tests' independent verifier agree with the
specification's published example, and a tampered body or id fails."""

import time

import pytest

from common import codec
from live.webhooks import signing
from tests.live.webhooks.receiver import BadSignature, verify

#: The example of the Standard Webhooks reference libraries' tests.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specification_example_signs_as_published() -> None:
    """Our headers for the example carry the published signature."""
    headers = signing.headers(SECRET, MSG_ID, PAYLOAD, now_s=STAMP)
    assert headers["webhook-signature"] == SIGNATURE
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-timestamp"] == str(STAMP)


def test_the_verifier_accepts_ours_and_refuses_tampering() -> None:
    """A fresh signature verifies; another body, id, timestamp or secret does not."""
    secret = signing.new_secret()
    body = signing.body("order.paid", 1795375883881, codec.encode({"order_id": "ord_1"}).decode())
    assert codec.decode(body) == {
        "type": "order.paid",
        "timestamp": "2026-11-22T19:31:23.881Z",
        "data": {"order_id": "ord_1"},
    }
    now = time.time()
    headers = signing.headers(secret, "msg_1", body, now_s=now)
    verify(secret, headers, body)
    for changed in (
        {"webhook-id": "msg_2"},
        {"webhook-timestamp": str(int(now) + 1)},
        {"webhook-signature": "v1,AAAA"},
    ):
        with pytest.raises(BadSignature):
            verify(secret, {**headers, **changed}, body)
    with pytest.raises(BadSignature):
        verify(secret, headers, body + b" ")
    with pytest.raises(BadSignature):
        verify(signing.new_secret(), headers, body)
    stale = signing.headers(secret, "msg_1", body, now_s=now - 3600)
    with pytest.raises(BadSignature):
        verify(secret, stale, body)
