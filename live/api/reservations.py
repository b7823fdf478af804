"""Reservation endpoints: a scheduled session's public schedule, reserving and cancelling (a
viewer), the totals (the host), a guide's reservations and after-live no-show list, and the
brand's reminder lead time."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from live.api import request as req
from live.api.guides import csv_response
from live.api.responses import JSON
from live.auth.tokens import Role
from live.db.unit import transaction
from live.guides import organisation
from live.platform.clock import now_ms
from live.reservations import booking, no_shows, records, reminders
from live.sessions import session_records

HOSTS = (Role.HOST, Role.ADMIN)
DEFAULT_LISTED = 100
MAX_LISTED = 1_000
#: The longest reminder lead a brand may set: a week.
MAX_LEAD_S = 7 * 86_400


async def get_schedule(request: Request) -> JSON:
    """``GET /api/sessions/{id}/schedule`` (any role of the brand): what a countdown page
    shows: title, cover, start, products, the count of reservations and whether the caller
    reserved; ``now`` is the server's clock, to count down from."""
    caller = req.principal(request)
    session_id = request.path_params["session_id"]
    ctx = req.context(request)
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, caller.brand, session_id)
        products = await session_records.products_of(db, session_id)
        total = await records.count(db, session_id)
        mine = await records.of_viewer(db, session_id, caller.sub)
    return JSON(
        {
            "session_id": session.id,
            "title": session.title,
            "status": session.status,
            "cover_url": session.cover_url,
            "starts_at": session.starts_ms,
            "started_at": session.started_ms,
            "products": [session_records.product_view(p) for p in products],
            "reservations": total,
            "reserved": mine is not None and mine.status == records.ACTIVE,
            "now": now_ms(),
        }
    )


async def reserve(request: Request) -> JSON:
    """``POST /api/sessions/{id}/reservations`` {share?} (viewer) -> 201 the reservation (200
    when the viewer had reserved already: the same one)."""
    caller = req.principal(request, Role.VIEWER)
    body = await req.json_object(request)
    share = req.optional_text(body, "share", max_chars=2000)
    row, made = await booking.reserve(
        req.context(request), caller, request.path_params["session_id"], share=share
    )
    return JSON(records.view(row), status_code=201 if made else 200)


async def cancel(request: Request) -> JSON:
    """``DELETE /api/sessions/{id}/reservations/me`` (viewer): cancel the reservation."""
    caller = req.principal(request, Role.VIEWER)
    row = await booking.cancel(req.context(request), caller, request.path_params["session_id"])
    return JSON(records.view(row))


async def totals(request: Request) -> JSON:
    """``GET /api/sessions/{id}/reservations`` (host, admin): the total and per guide."""
    caller = req.principal(request, *HOSTS)
    session_id = request.path_params["session_id"]
    async with transaction(req.context(request).db) as db:
        await session_records.load(db, caller.brand, session_id)
        counts = await records.count_by_guide(db, session_id)
        named = [guide for guide in counts if guide is not None]
        names = await organisation.names(db, caller.brand, named)
    ranked = sorted(((-n, guide) for guide, n in counts.items() if guide is not None))
    guides = [
        {"guide_id": guide, "name": names.get(guide, guide), "reservations": -negated}
        for negated, guide in ranked
    ]
    return JSON(
        {
            "session_id": session_id,
            "total": sum(counts.values()),
            "unattributed": counts.get(None, 0),
            "guides": guides,
        }
    )


async def my_reservations(request: Request) -> JSON:
    """``GET /api/guides/me/reservations?session_id=&limit=`` (guide): the active
    reservations the guide brought, newest first."""
    caller = req.principal(request, Role.GUIDE)
    limit = req.query_integer(request, "limit", minimum=1, maximum=MAX_LISTED) or DEFAULT_LISTED
    session_id = request.query_params.get("session_id") or None
    async with transaction(req.context(request).db) as db:
        rows = await records.of_guide(
            db, caller.brand, caller.sub, session_id=session_id, limit=limit
        )
    return JSON({"items": [records.view(row) for row in rows]})


async def my_no_shows(request: Request) -> Response:
    """``GET /api/guides/me/no-shows?session_id=[&format=csv]`` (guide): after the end, who
    reserved through the guide and never came, who came and did not buy, with links."""
    caller = req.principal(request, Role.GUIDE)
    session_id = req.text(dict(request.query_params), "session_id", max_chars=64)
    report = await no_shows.report(req.context(request), caller, session_id)
    if request.query_params.get("format") != "csv":
        return JSON(report)
    return csv_response(report["items"], no_shows.CSV_FIELDS, filename=f"no-shows-{session_id}.csv")


async def get_reminders(request: Request) -> JSON:
    """``GET /api/brands/me/reminders`` (admin, host): the reminder lead time."""
    caller = req.principal(request, Role.ADMIN, Role.HOST)
    ctx = req.context(request)
    async with transaction(ctx.db) as db:
        lead = await reminders.lead_of(db, caller.brand, default_s=ctx.settings.reminder_lead_s)
    return JSON({"lead_s": lead})


async def put_reminders(request: Request) -> JSON:
    """``PUT /api/brands/me/reminders`` {lead_s} (admin): remind reservations this long
    before a scheduled start."""
    caller = req.principal(request, Role.ADMIN)
    lead = req.integer(await req.json_object(request), "lead_s", minimum=0, maximum=MAX_LEAD_S)
    async with transaction(req.context(request).db) as db:
        await reminders.set_lead(db, caller.brand, lead, now=now_ms())
    return JSON({"lead_s": lead})


routes = [
    Route("/api/sessions/{session_id}/schedule", get_schedule, methods=["GET"]),
    Route("/api/sessions/{session_id}/reservations", reserve, methods=["POST"]),
    Route("/api/sessions/{session_id}/reservations", totals, methods=["GET"]),
    Route("/api/sessions/{session_id}/reservations/me", cancel, methods=["DELETE"]),
    Route("/api/guides/me/reservations", my_reservations, methods=["GET"]),
    Route("/api/guides/me/no-shows", my_no_shows, methods=["GET"]),
    Route("/api/brands/me/reminders", get_reminders, methods=["GET"]),
    Route("/api/brands/me/reminders", put_reminders, methods=["PUT"]),
]
