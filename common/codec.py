"""The one place JSON is encoded and decoded: orjson, bytes in and out.

A frame for a room is encoded once here and the same bytes are written to every socket.
"""

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def encode(value: Any) -> bytes:
    """Encode a JSON value to UTF-8 bytes (no spaces, keys in insertion order)."""
    return orjson.dumps(value)


def encode_text(value: Any) -> str:
    """Encode a JSON value to a str, for WebSocket text frames."""
    return orjson.dumps(value).decode()


def decode(data: bytes | str) -> Any:
    """Decode JSON; raises `JSONDecodeError` on malformed input."""
    return orjson.loads(data)
