"""The commerce messages of the wire protocol (buy, waitlist): plain synchronous tests."""

import pytest

from common.errors import Code
from realtime import protocol

MAX = 65_536


def test_buy_and_waitlist_messages_parse_into_commands() -> None:
    """A buy with its key (qty defaults to 1), optional coupon and offer; waitlist joins and
    leaves."""
    parsed = protocol.parse(
        '{"type":"buy","product_id":"p","key":"k-1","ref":"a"}', max_frame_bytes=MAX
    )
    assert parsed == protocol.Buy(product_id="p", qty=1, key="k-1", ref="a")
    full = protocol.parse(
        '{"type":"buy","product_id":"p","qty":3,"key":"k","coupon_id":"c","offer_id":"o"}',
        max_frame_bytes=MAX,
    )
    assert full == protocol.Buy(product_id="p", qty=3, key="k", coupon_id="c", offer_id="o")
    assert protocol.parse('{"type":"waitlist","product_id":"p"}', max_frame_bytes=MAX) == (
        protocol.Waitlist(product_id="p", join=True)
    )
    assert protocol.parse(
        '{"type":"leave_waitlist","product_id":"p","ref":1}', max_frame_bytes=MAX
    ) == (protocol.Waitlist(product_id="p", join=False, ref="1"))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ('{"type":"buy","product_id":"p"}', Code.IDEMPOTENCY_KEY_REQUIRED),
        ('{"type":"buy","product_id":"p","key":""}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"p","key":"a b"}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"p","key":7}', Code.INVALID_REQUEST),
        ('{"type":"buy","key":"k"}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"p","key":"k","qty":0}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"p","key":"k","qty":101}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"p","key":"k","qty":1.0}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"p","key":"k","qty":true}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"p","key":"k","coupon_id":""}', Code.INVALID_REQUEST),
        ('{"type":"buy","product_id":"' + "p" * 65 + '","key":"k"}', Code.INVALID_REQUEST),
        ('{"type":"waitlist"}', Code.INVALID_REQUEST),
        ('{"type":"leave_waitlist","product_id":5}', Code.INVALID_REQUEST),
    ],
)
def test_bad_commerce_messages_are_refused_with_a_code(data: str, code: Code) -> None:
    """Each malformed field gets its catalog code, and the ref when it was readable."""
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse(data[:-1] + ',"ref":"x"}', max_frame_bytes=MAX)
    assert (caught.value.code, caught.value.ref) == (code, "x")
