"""Questions to guides as records: the rule that makes a comment a question, JSON shapes, and
the per-guide answer figures the host panel shows.

The rule (documented in docs/protocol.md section 7): a viewer's comment is a question when the
viewer tapped "ask my guide" (``ask: true`` on the comment message), or when its text, trimmed,
ends with ``?`` or the full-width ``U+FF1F``, or contains ``吗``, ``多少`` or ``怎么``.
"""

import math
from collections.abc import Iterable
from typing import Any

from live.db.models import GuideQuestionRow

QUESTION_ENDINGS = ("?", "\uff1f")
QUESTION_WORDS = ("吗", "多少", "怎么")
MAX_ANSWER_CHARS = 500


def is_question(text: str, *, asked: bool) -> bool:
    """Whether a comment is a question by the documented rule."""
    if asked:
        return True
    trimmed = text.strip()
    return trimmed.endswith(QUESTION_ENDINGS) or any(word in trimmed for word in QUESTION_WORDS)


#: The archived event of an answer: private to the asker, their guide and the brand's hosts.
ANSWER_EVENT = "question_answer"


def readable_by(event: dict[str, Any], *, role: str, user_id: str) -> bool:
    """Whether an archived event may be shown to this caller: every event but an answer, which
    only its asker, its guide, whoever answered it and the brand's hosts and admins read."""
    if event.get("type") != ANSWER_EVENT or role in ("host", "admin"):
        return True
    return user_id in (event.get("viewer_id"), event.get("guide_id"), event.get("answered_by"))


def question_view(row: GuideQuestionRow) -> dict[str, Any]:
    """A question as guides, hosts and the API show it."""
    return {
        "question_id": row.id,
        "session_id": row.session_id,
        "viewer_id": row.viewer_id,
        "viewer_name": row.viewer_name or row.viewer_id,
        "guide_id": row.guide_id,
        "comment_id": row.comment_id,
        "text": row.text,
        "asked_ms": row.asked_ms,
        "answer": row.answer,
        "answered_by": row.answered_by,
        "answered_ms": row.answered_ms,
    }


def percentile(sorted_values: list[int], fraction: float) -> int | None:
    """The nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def guide_figures(rows: Iterable[GuideQuestionRow]) -> list[dict[str, Any]]:
    """Per guide: questions routed to them, answered, and the median and 90th percentile time
    from asking to answering (ms, nearest rank), by guide id."""
    asked: dict[str, int] = {}
    times: dict[str, list[int]] = {}
    for row in rows:
        if row.guide_id is None:
            continue
        asked[row.guide_id] = asked.get(row.guide_id, 0) + 1
        if row.answered_ms is not None and row.answered_by == row.guide_id:
            times.setdefault(row.guide_id, []).append(row.answered_ms - row.asked_ms)
    figures = []
    for guide_id in sorted(asked):
        answered = sorted(times.get(guide_id, []))
        figures.append(
            {
                "guide_id": guide_id,
                "questions": asked[guide_id],
                "answered": len(answered),
                "median_answer_ms": percentile(answered, 0.5),
                "p90_answer_ms": percentile(answered, 0.9),
            }
        )
    return figures
