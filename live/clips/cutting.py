"""Shoppable clips cut from an archived session: one per product explained.

A clip runs from a ``pin`` to whatever ends that explanation: the next ``pin``, an ``unpin``
or the session's ``ended``.
"""

from collections.abc import Iterable
from typing import Any

ENDS_EXPLANATION = frozenset({"pin", "unpin", "ended"})


def cut(session_id: str, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Clips of a session from its archived events (in order)."""
    clips: list[dict[str, Any]] = []
    open_pin: dict[str, Any] | None = None
    for event in events:
        kind = event.get("type")
        if kind not in ENDS_EXPLANATION:
            continue
        if open_pin is not None:
            clips.append(
                {
                    "clip_id": f"{session_id}-{len(clips) + 1}",
                    "session_id": session_id,
                    "product_id": open_pin["product_id"],
                    "from_ms": open_pin["t_ms"],
                    "to_ms": event["t_ms"],
                    "from_seq": open_pin["seq"],
                    "to_seq": event["seq"],
                }
            )
            open_pin = None
        if kind == "pin":
            open_pin = event
    return clips
