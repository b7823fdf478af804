"""The sans-I/O wire protocol: plain synchronous tests, no sockets."""

import pytest

from common import codec
from common.errors import Code
from realtime import protocol

MAX = 65_536


def _error(data: str | bytes) -> protocol.ProtocolError:
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse(data, max_frame_bytes=MAX)
    return caught.value


def test_parses_every_client_command() -> None:
    """comment, like, claim and ping parse into typed commands with their ref."""
    assert protocol.parse('{"type":"comment","text":"hi","ref":"a"}', max_frame_bytes=MAX) == (
        protocol.Comment(text="hi", ref="a")
    )
    assert protocol.parse('{"type":"like","count":3}', max_frame_bytes=MAX) == protocol.Like(3)
    assert protocol.parse(b'{"type":"claim","coupon_id":"c1","ref":7}', max_frame_bytes=MAX) == (
        protocol.Claim(coupon_id="c1", ref="7")
    )
    assert protocol.parse('{"type":"ping"}', max_frame_bytes=MAX) == protocol.Ping()


def test_comment_asking_the_guide() -> None:
    """``ask: true`` marks a comment as a question for the viewer's guide; ask must be a bool."""
    asked = protocol.parse('{"type":"comment","text":"size?","ask":true}', max_frame_bytes=MAX)
    assert asked == protocol.Comment(text="size?", ask=True)
    assert _error('{"type":"comment","text":"size?","ask":"yes"}').code == Code.INVALID_REQUEST


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("not json", Code.INVALID_JSON),
        ("[1, 2]", Code.INVALID_REQUEST),
        ('{"type": "dance"}', Code.UNKNOWN_TYPE),
        ('{"text": "no type"}', Code.INVALID_REQUEST),
        ('{"type": "comment"}', Code.INVALID_REQUEST),
        ('{"type": "comment", "text": 5}', Code.INVALID_REQUEST),
        ('{"type": "like", "count": 0}', Code.INVALID_REQUEST),
        ('{"type": "like", "count": true}', Code.INVALID_REQUEST),
        ('{"type": "claim", "coupon_id": ""}', Code.INVALID_REQUEST),
        ('{"type": "ping", "ref": {"x": 1}}', Code.INVALID_REQUEST),
        ('{"type": "ping", "ref": "' + "r" * 65 + '"}', Code.INVALID_REQUEST),
    ],
)
def test_bad_messages_get_catalog_codes(data: str, code: Code) -> None:
    """Every malformed message maps to one catalog code."""
    assert _error(data).code == code


def test_oversized_frame_is_refused_before_parsing() -> None:
    """A frame above the limit is refused with frame_too_large."""
    assert _error('{"type":"comment","text":"' + "x" * MAX + '"}').code == Code.FRAME_TOO_LARGE


def test_error_keeps_the_ref_when_it_was_readable() -> None:
    """An error answering a message with a valid ref echoes that ref."""
    assert _error('{"type": "dance", "ref": "r1"}').ref == "r1"


def test_event_type_reads_stored_frames() -> None:
    """The type of a stored frame is read without a full parse, and with one as fallback."""
    assert protocol.event_type(b'{"type":"pin","seq":3}') == "pin"
    assert protocol.event_type(codec.encode({"seq": 1, "type": "unpin"})) == "unpin"


def test_frames_have_the_documented_shape() -> None:
    """error and ack frames carry type, code/message or ref."""
    assert protocol.error_frame(Code.RATE_LIMITED, "slow down", "r") == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow down",
        "ref": "r",
    }
    assert protocol.ack_frame("r", {"id": "9"}) == {"type": "ack", "ref": "r", "id": "9"}
