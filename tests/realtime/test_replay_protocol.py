"""The replay socket's control messages, sans I/O: plain synchronous tests, no sockets."""

import pytest

from common.errors import Code
from realtime import protocol, replay_protocol

MAX = 65_536


def test_parses_every_control_message() -> None:
    """seek, pause, resume, speed and ping parse into typed commands with their ref."""
    parse = replay_protocol.parse
    assert parse('{"type":"seek","t_ms":1200,"ref":"a"}', max_frame_bytes=MAX) == (
        replay_protocol.Seek(t_ms=1200, ref="a")
    )
    assert parse('{"type":"pause"}', max_frame_bytes=MAX) == replay_protocol.Pause()
    assert parse('{"type":"resume","ref":3}', max_frame_bytes=MAX) == replay_protocol.Resume("3")
    assert parse('{"type":"speed","speed":0.5}', max_frame_bytes=MAX) == replay_protocol.Speed(0.5)
    assert parse('{"type":"speed","speed":4}', max_frame_bytes=MAX) == replay_protocol.Speed(4.0)
    assert parse(b'{"type":"ping"}', max_frame_bytes=MAX) == replay_protocol.Ping()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{", Code.INVALID_JSON),
        ("[]", Code.INVALID_REQUEST),
        ('{"type":"seek"}', Code.INVALID_REQUEST),
        ('{"type":"seek","t_ms":-1}', Code.INVALID_REQUEST),
        ('{"type":"seek","t_ms":1.5}', Code.INVALID_REQUEST),
        ('{"type":"seek","t_ms":true}', Code.INVALID_REQUEST),
        ('{"type":"speed","speed":4.01}', Code.INVALID_REQUEST),
        ('{"type":"speed","speed":0.49}', Code.INVALID_REQUEST),
        ('{"type":"speed","speed":"2"}', Code.INVALID_REQUEST),
        ('{"type":"speed"}', Code.INVALID_REQUEST),
        ('{"type":7}', Code.INVALID_REQUEST),
        ('{"type":"pause","ref":{}}', Code.INVALID_REQUEST),
        ('{"type":"comment","text":"hi"}', Code.UNKNOWN_TYPE),
        ("x" * (MAX + 1), Code.FRAME_TOO_LARGE),
    ],
)
def test_refuses_bad_messages_with_catalog_codes(data: str, code: Code) -> None:
    """Anything else is a `ProtocolError` carrying a code of the catalog."""
    with pytest.raises(protocol.ProtocolError) as caught:
        replay_protocol.parse(data, max_frame_bytes=MAX)
    assert caught.value.code == code


def test_query_speed_text_is_read_as_a_number() -> None:
    """The ``speed`` query parameter is text: "2" plays at 2, "0.1" is refused."""
    assert replay_protocol.speed_from_query("2") == 2.0
    for bad in ("0.1", "nan", "fast", "inf"):
        with pytest.raises(protocol.ProtocolError):
            replay_protocol.speed_from_query(bad)
