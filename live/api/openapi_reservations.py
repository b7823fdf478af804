"""The reservation routes of ``/openapi.json`` (`live.api.reservations`), merged into the
document by `live.api.openapi`."""

from live.api.openapi_schema import ANYONE, HOSTS, ID, Schema, content, integer, obj, op

RESERVATION_PATHS: dict[str, dict[str, Schema]] = {
    "/api/sessions/{session_id}/schedule": {
        "get": op(
            "A scheduled session's countdown page: start, cover, products, reservations", ANYONE
        )
    },
    "/api/sessions/{session_id}/reservations": {
        "post": op(
            "Reserve a scheduled session (from a guide's share code, or plain)",
            ["viewer"],
            body=content(obj({}, {"share": {"type": "string"}})),
            ok=201,
        ),
        "get": op("A session's reservations: the total and per guide", HOSTS),
    },
    "/api/sessions/{session_id}/reservations/me": {
        "delete": op("Cancel my reservation", ["viewer"])
    },
    "/api/guides/me/reservations": {
        "get": op(
            "The reservations a guide brought",
            ["guide"],
            query={"session_id": ID, "limit": integer(1, 1000)},
        )
    },
    "/api/guides/me/no-shows": {
        "get": op(
            "After the end: who reserved and never came, who came and did not buy (JSON or CSV)",
            ["guide"],
            query={"session_id": ID, "format": {"enum": ["json", "csv"]}},
        )
    },
    "/api/brands/me/reminders": {
        "get": op("The brand's reminder lead time", ["admin", "host"]),
        "put": op(
            "Set the reminder lead time",
            ["admin"],
            body=content(obj({"lead_s": integer(0, 7 * 86_400)})),
        ),
    },
}
