"""How archived events are shown on replay: deleted comments are marked, never silently lost."""

from collections.abc import Iterable
from typing import Any


def mark_deleted(
    events: Iterable[dict[str, Any]], *, session_events: Iterable[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The events with ``"deleted": true`` on every comment a ``comment_deleted`` names.

    ``session_events`` are all the session's events when ``events`` is only a window of them
    (the deletion may come after the window). The archive keeps what was said and that the
    host removed it; a replay client decides whether to show deleted comments.
    """
    listed = list(events)
    source = listed if session_events is None else session_events
    deleted = {str(e["comment_id"]) for e in source if e.get("type") == "comment_deleted"}
    return [
        {**e, "deleted": True} if e.get("type") == "comment" and str(e.get("id")) in deleted else e
        for e in listed
    ]
