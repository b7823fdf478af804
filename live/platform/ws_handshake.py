"""A WebSocket opening handshake answered from the request httptools already parsed.

Why: uvicorn hands an upgrade to its WebSocket protocol by writing the parsed request back out
as bytes, which websockets then parses again, line by line in Python, checks, and answers with
a response built header by header that uvicorn edits once the app accepts. In a storm of 5,000
joins that was about a sixth of the server's CPU (docs/benchmarks.md, "Join storms"). Here the
ordinary request (a GET with one valid key, version 13, one Upgrade and at most one Origin
header, no compression configured) is checked from the parsed headers, and answered with one
formatted response.

Contract: `accept_key` says None for anything but that ordinary request, and the caller then
takes uvicorn's own path, so that every refusal (400, 405, 426, ...) is websockets' own. What
an accepted request yields is what uvicorn's path gives the app: the same ASGI scope, and a
101 response with the same headers (uvicorn's defaults, then the app's, then the chosen
subprotocol).
"""

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

#: RFC 6455, section 1.3: appended to the client's key before hashing.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: "
)

Headers = Iterable[tuple[bytes, bytes]]


def accept_key(method: str, headers: Headers) -> bytes | None:
    """The ``Sec-WebSocket-Accept`` value for an ordinary upgrade request, or None when the
    request is anything else (websockets judges it then)."""
    if method != "GET":
        return None
    key = version = None
    upgrades = origins = 0
    for name, value in headers:
        if name == b"sec-websocket-key":
            if key is not None:
                return None
            key = value
        elif name == b"sec-websocket-version":
            if version is not None:
                return None
            version = value
        elif name == b"upgrade":
            upgrades += 1
        elif name == b"origin":
            origins += 1
    if key is None or version != b"13" or upgrades != 1 or origins > 1:
        return None
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except binascii.Error:
        return None
    return base64.b64encode(hashlib.sha1(key + GUID, usedforsecurity=False).digest())


def target(url: bytes, root_path: str) -> tuple[str, bytes, bytes] | None:
    """The request target as the ASGI scope has it: ``(path, raw_path, query_string)``, or None
    for a target that is not ASCII (websockets judges it then)."""
    try:
        text = url.decode("ascii")
    except UnicodeDecodeError:
        return None
    raw_path, _, query = text.partition("?")
    return root_path + unquote(raw_path), (root_path + raw_path).encode("ascii"), query.encode()


def subprotocols(headers: Headers) -> list[str]:
    """The subprotocols the client offers, in its order."""
    offered: list[str] = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            offered.extend(token.strip() for token in value.decode("latin-1").split(","))
    return offered


def switching(
    accept: bytes, defaults: Iterable[tuple[bytes, bytes]], message: dict[str, Any]
) -> bytes:
    """The 101 response to an accepted request: the handshake's headers, the server's default
    ones, the app's (``websocket.accept``'s ``headers``) and its chosen subprotocol."""
    lines = [_SWITCHING, accept, b"\r\n"]
    for name, value in (*defaults, *message.get("headers", ())):
        lines += [name.lower(), b": ", value, b"\r\n"]
    chosen = message.get("subprotocol")
    if chosen:
        lines += [b"Sec-WebSocket-Protocol: ", chosen.encode("latin-1"), b"\r\n"]
    lines.append(b"\r\n")
    return b"".join(lines)
