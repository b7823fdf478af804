"""Web pages shipped in the package: the host panel, the guide workspace and the viewer demo,
plain HTML/CSS/JS under ``live/static`` (no build step), with the client SDK they share."""

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from common.errors import ClientError
from live.api import request as req
from live.db.models import SessionRow
from live.db.unit import transaction
from live.sessions import session_records


def _page(name: str) -> HTMLResponse:
    page = resources.files("live").joinpath("static", name).read_text("utf-8")
    # Pages carry tokens in their URL (demo links): keep them out of other sites' Referer.
    return HTMLResponse(
        page, headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
    )


async def host(_request: Request) -> HTMLResponse:
    """``GET /host``: the host control panel."""
    return _page("host.html")


async def guide(_request: Request) -> HTMLResponse:
    """``GET /guide``: the shopping guide's workspace."""
    return _page("guide.html")


async def watch(request: Request) -> HTMLResponse:
    """``GET /watch/{session_id}?token=&share=``: the viewer demo of a live room; while the
    session is scheduled, its countdown and reservation page (the same link, shared by a
    guide before the live, opens the room once it is live)."""
    if await _scheduled(request, request.path_params["session_id"]):
        return _page("schedule.html")
    return _page("watch.html")


async def _scheduled(request: Request, session_id: str) -> bool:
    """Whether ``session_id`` is a scheduled session, read from the record on every page load
    (not from the node's one-second cache of session rows: a viewer opening the reminder's
    link right after the start must get the room). The page has no token yet, so the brand
    is checked by the API calls the page makes, not here; a record that cannot answer serves
    the room page, which says what went wrong."""
    ctx = req.context(request)
    try:
        async with transaction(ctx.db) as db:
            row = await db.get(SessionRow, session_id)
    except ClientError:
        return False
    return row is not None and row.status == session_records.SCHEDULED


async def replay(_request: Request) -> HTMLResponse:
    """``GET /replay/{session_id}`` and ``GET /clips/{clip_id}``: an ended session's replay, or
    one clip of it, with its product to buy."""
    return _page("replay.html")


async def pay(_request: Request) -> HTMLResponse:
    """``GET /pay/{order_id}``: the development payment provider's pay page."""
    return _page("pay.html")


async def home(_request: Request) -> RedirectResponse:
    """``GET /``: to the host panel."""
    return RedirectResponse("/host")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/host", host, methods=["GET"]),
    Route("/guide", guide, methods=["GET"]),
    Route("/watch/{session_id}", watch, methods=["GET"]),
    Route("/pay/{order_id}", pay, methods=["GET"]),
    Route("/replay/{session_id}", replay, methods=["GET"]),
    Route("/clips/{clip_id}", replay, methods=["GET"]),
    Mount("/static", StaticFiles(packages=[("live", "static")]), name="static"),
]
