"""The guide workspace's routes of ``/openapi.json`` (`live.api.workspace`), merged into the
document by `live.api.openapi`."""

from live.api.openapi_schema import HOSTS, ID, Schema, content, integer, obj, op, text

_CENTS = integer(1, 100_000_000)

WORKSPACE_PATHS: dict[str, dict[str, Schema]] = {
    "/api/sessions/{session_id}/questions": {
        "get": op(
            "Questions: the guide's own; the unclaimed ones and per-guide figures (hosts)",
            ["guide", *HOSTS],
        )
    },
    "/api/sessions/{session_id}/questions/{question_id}/answer": {
        "post": op(
            "Answer a question privately (its guide, or a host)",
            ["guide", *HOSTS],
            body=content(obj({"text": text(500)})),
        )
    },
    "/api/sessions/{session_id}/guides/{guide_id}/budget": {
        "put": op(
            "Set a guide's nudge coupon budget in the session",
            HOSTS,
            body=content(
                obj({"count": integer(0, 10_000), "value_cap_cents": integer(0, 100_000_000)})
            ),
        )
    },
    "/api/sessions/{session_id}/budgets": {
        "get": op("Guides' coupon budgets (a guide: their own)", ["guide", *HOSTS])
    },
    "/api/sessions/{session_id}/nudges": {
        "post": op(
            "Send one of the guide's viewers a private coupon from the budget",
            ["guide"],
            body=content(
                obj({"viewer_id": ID, "value_cents": _CENTS}, {"min_spend_cents": integer(0)})
            ),
            ok=201,
        )
    },
}
