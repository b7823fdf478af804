"""The replay socket's wire protocol, sans I/O: client control messages in, typed commands out.

Client -> server messages are JSON objects with a ``type`` (``seek``, ``pause``, ``resume``,
``speed``, ``ping``) and an optional ``ref`` echoed in the answer, as on the room socket.
"""

from dataclasses import dataclass
from typing import Any

from common import codec
from common.errors import Code

# The ping is the room socket's, re-exported: one command type for both sockets.
from realtime.protocol import Ping as Ping
from realtime.protocol import ProtocolError, read_ref

MIN_SPEED = 0.5
MAX_SPEED = 4.0


@dataclass(frozen=True, slots=True)
class Seek:
    """``{"type": "seek", "t_ms": int}``: continue from session time ``t_ms``."""

    t_ms: int
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    """``{"type": "pause"}``."""

    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """``{"type": "resume"}``."""

    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Speed:
    """``{"type": "speed", "speed": number}`` with 0.5 <= speed <= 4."""

    speed: float
    ref: str | None = None


Command = Seek | Pause | Resume | Speed | Ping


def speed_of(value: Any, ref: str | None = None) -> float:
    """A playback speed from a JSON number; `ProtocolError` when not a number in 0.5-4."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(Code.INVALID_REQUEST, "speed must be a number", ref)
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise ProtocolError(
            Code.INVALID_REQUEST, f"speed must be between {MIN_SPEED} and {MAX_SPEED:g}", ref
        )
    return float(value)


def speed_from_query(text: str) -> float:
    """The ``speed`` query parameter of the replay socket, read as `speed_of` reads a number."""
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(Code.INVALID_REQUEST, "speed must be a number") from None
    return speed_of(value)


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
    if kind == "seek":
        t_ms = message.get("t_ms")
        if isinstance(t_ms, bool) or not isinstance(t_ms, int) or t_ms < 0:
            raise ProtocolError(Code.INVALID_REQUEST, "t_ms must be an integer >= 0", ref)
        return Seek(t_ms=t_ms, ref=ref)
    if kind == "pause":
        return Pause(ref=ref)
    if kind == "resume":
        return Resume(ref=ref)
    if kind == "speed":
        return Speed(speed=speed_of(message.get("speed"), ref), ref=ref)
    if kind == "ping":
        return Ping(ref=ref)
    if not isinstance(kind, str):
        raise ProtocolError(Code.INVALID_REQUEST, "a message needs a string type", ref)
    raise ProtocolError(Code.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", ref)
