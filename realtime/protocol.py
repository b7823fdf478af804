"""The room socket's wire protocol, sans I/O: text in, typed commands out; events in, frames out.

Nothing here touches a socket or awaits. Client -> server messages are JSON objects with a
``type`` and an optional ``ref`` (a string of at most 64 characters echoed in the answer).
"""

import re
from dataclasses import dataclass
from typing import Any

from common import codec
from common.errors import Code

#: Durable event types sent to viewers as soon as they are read from the stream.
IMMEDIATE_TYPES = frozenset(
    {"pin", "unpin", "coupon", "started", "ended", "comment_deleted", "draw_open", "draw_result"}
    | {"sale_open", "sale_close", "price"}
)
#: Durable event types kept for the archive only, never sent to viewers.
#: (``question_answer``: a guide's private reply, kept in the record of the session only.)
ARCHIVE_ONLY_TYPES = frozenset({"draw_audit", "question_answer"})
#: Durable event types folded into the room's next tick frame instead. ``sold_out`` rides the
#: tick that carries its product's stock level 0, whole (with its ``seq``): a write of its own
#: to every viewer, in the middle of the flash sale it ends, made each refused attempt cost the
#: node 15-27% more CPU (docs/benchmarks.md, "A sell-out in the tick").
COALESCED_TYPES = frozenset({"stock", "coupon_left", "purchase", "sold_out"})

MAX_REF_CHARS = 64
MAX_LIKES_PER_MESSAGE = 100
#: Units one ``buy`` may ask for, as ``POST .../orders`` allows.
MAX_BUY_QTY = 100
MAX_ID_CHARS = 64
#: An idempotency key, on the socket (``key``) as in the ``Idempotency-Key`` header.
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Comment:
    """``{"type": "comment", "text": str, "ask"?: bool}``; ``ask`` sends it to the viewer's
    guide only (a question), not to the room."""

    text: str
    ref: str | None = None
    ask: bool = False


@dataclass(frozen=True, slots=True)
class Like:
    """``{"type": "like", "count": int}`` with 1 <= count <= 100."""

    count: int
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """``{"type": "claim", "coupon_id": str}``."""

    coupon_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    """``{"type": "ping"}``; answered with ``pong``."""

    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Moderate:
    """Host commands ``mute`` / ``unmute`` / ``kick`` ``{user_id}`` and
    ``delete_comment`` ``{comment_id}``."""

    action: str
    target: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Buy:
    """``{"type": "buy", "product_id", "qty", "key", "coupon_id"?, "offer_id"?, "first"?}``: an
    order, ``key`` being the client's idempotency key; ``offer_id`` takes a waitlist offer;
    ``first`` says the client never sent this key before (a retry must not say it)."""

    product_id: str
    qty: int
    key: str
    coupon_id: str | None = None
    offer_id: str | None = None
    ref: str | None = None
    first: bool = False


@dataclass(frozen=True, slots=True)
class Waitlist:
    """``{"type": "waitlist" | "leave_waitlist", "product_id"}``: join or leave a product's
    waitlist (``join`` True for ``waitlist``)."""

    product_id: str
    join: bool
    ref: str | None = None


MODERATION_ACTIONS = {
    "mute": "user_id",
    "unmute": "user_id",
    "kick": "user_id",
    "delete_comment": "comment_id",
}

Command = Comment | Like | Claim | Ping | Moderate | Buy | Waitlist


class ProtocolError(Exception):
    """A client message that cannot be accepted; answered with an ``error`` frame."""

    def __init__(self, code: Code, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def read_ref(message: dict[str, Any]) -> str | None:
    """A message's ``ref`` (numbers become strings); `ProtocolError` when it is unusable."""
    ref = message.get("ref")
    if ref is None:
        return None
    if isinstance(ref, int | float) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or len(ref) > MAX_REF_CHARS:
        raise ProtocolError(Code.INVALID_REQUEST, f"ref must be a string of <= {MAX_REF_CHARS}")
    return ref


def _string(message: dict[str, Any], name: str, ref: str | None) -> str:
    value = message.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(Code.INVALID_REQUEST, f"{name} must be a non-empty string", ref)
    return value


def _identifier(message: dict[str, Any], name: str, ref: str | None) -> str:
    value = _string(message, name, ref)
    if len(value) > MAX_ID_CHARS:
        raise ProtocolError(Code.INVALID_REQUEST, f"{name} is limited to {MAX_ID_CHARS} chars", ref)
    return value


def _optional_identifier(message: dict[str, Any], name: str, ref: str | None) -> str | None:
    return None if message.get(name) is None else _identifier(message, name, ref)


def _buy(message: dict[str, Any], ref: str | None) -> Buy:
    qty = message.get("qty", 1)
    if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_BUY_QTY:
        raise ProtocolError(Code.INVALID_REQUEST, f"qty must be an integer 1..{MAX_BUY_QTY}", ref)
    key = message.get("key")
    if key is None:
        raise ProtocolError(Code.IDEMPOTENCY_KEY_REQUIRED, "a buy needs its key", ref)
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key):
        raise ProtocolError(
            Code.INVALID_REQUEST, "key must be 1-128 characters of A-Z a-z 0-9 . _ : -", ref
        )
    first = message.get("first", False)
    if not isinstance(first, bool):
        raise ProtocolError(Code.INVALID_REQUEST, "first must be true or false", ref)
    return Buy(
        product_id=_identifier(message, "product_id", ref),
        qty=qty,
        key=key,
        coupon_id=_optional_identifier(message, "coupon_id", ref),
        offer_id=_optional_identifier(message, "offer_id", ref),
        ref=ref,
        first=first,
    )


def parse(data: str | bytes, *, max_frame_bytes: int) -> Command:
    """Parse one client frame into a `Command`; raises `ProtocolError` for anything else."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_frame_bytes:
        raise ProtocolError(Code.FRAME_TOO_LARGE, f"frames are limited to {max_frame_bytes} bytes")
    try:
        message = codec.decode(data)
    except codec.JSONDecodeError:
        raise ProtocolError(Code.INVALID_JSON, "the frame is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError(Code.INVALID_REQUEST, "a message must be a JSON object")
    ref = read_ref(message)
    kind = message.get("type")
    if kind == "comment":
        ask = message.get("ask", False)
        if not isinstance(ask, bool):
            raise ProtocolError(Code.INVALID_REQUEST, "ask must be true or false", ref)
        return Comment(text=_string(message, "text", ref), ref=ref, ask=ask)
    if kind == "like":
        count = message.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            raise ProtocolError(Code.INVALID_REQUEST, "count must be an integer", ref)
        if not 1 <= count <= MAX_LIKES_PER_MESSAGE:
            raise ProtocolError(
                Code.INVALID_REQUEST, f"count must be 1..{MAX_LIKES_PER_MESSAGE}", ref
            )
        return Like(count=count, ref=ref)
    if kind == "claim":
        return Claim(coupon_id=_string(message, "coupon_id", ref), ref=ref)
    if kind == "ping":
        return Ping(ref=ref)
    if kind == "buy":
        return _buy(message, ref)
    if kind in ("waitlist", "leave_waitlist"):
        product_id = _identifier(message, "product_id", ref)
        return Waitlist(product_id=product_id, join=kind == "waitlist", ref=ref)
    if isinstance(kind, str) and kind in MODERATION_ACTIONS:
        field_name = MODERATION_ACTIONS[kind]
        return Moderate(action=kind, target=_string(message, field_name, ref), ref=ref)
    if not isinstance(kind, str):
        raise ProtocolError(Code.INVALID_REQUEST, "a message needs a string type", ref)
    raise ProtocolError(Code.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", ref)


def error_frame(code: Code, message: str, ref: str | None = None) -> dict[str, Any]:
    """``{"type": "error", "code", "message", "ref"?}``."""
    frame: dict[str, Any] = {"type": "error", "code": code.value, "message": message}
    if ref is not None:
        frame["ref"] = ref
    return frame


def ack_frame(ref: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "ack", "ref", ...fields}`` answering a command."""
    return {"type": "ack", "ref": ref, **fields}


def event_type(frame: bytes) -> str:
    """The ``type`` of a stored event frame (stored frames always begin with it)."""
    # publish.lua writes '{"type":"<t>",...' so the type can be sliced without a full parse.
    if frame.startswith(b'{"type":"'):
        end = frame.find(b'"', 9)
        if end > 9:
            return frame[9:end].decode()
    decoded: dict[str, Any] = codec.decode(frame)
    return str(decoded.get("type", ""))
