"""Web pages shipped in the package: the host panel, the guide workspace and the viewer demo,
plain HTML/CSS/JS under ``live/static`` (no build step), with the client SDK they share, and
the catalogs of their sentences per language (``GET /i18n/<lang>.json``)."""

import hashlib
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from common.errors import ClientError, Code
from live.api import page_language
from live.api import request as req
from live.db.models import SessionRow
from live.db.unit import transaction
from live.platform import languages
from live.sessions import session_records

#: How the templates open; the page's language goes in its place.
_HTML_OPEN = '<html lang="en">'


@cache
def _template(name: str) -> str:
    page = resources.files("live").joinpath("static", name).read_text("utf-8")
    if _HTML_OPEN not in page:
        raise RuntimeError(f"{name} must open with {_HTML_OPEN}")
    return page


async def _page(request: Request, name: str) -> HTMLResponse:
    lang = await page_language.choose(request)
    page = _template(name).replace(_HTML_OPEN, f'<html lang="{lang}">', 1)
    # Pages carry tokens in their URL (demo links): keep them out of other sites' Referer.
    return HTMLResponse(
        page,
        headers={
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
            "Vary": "Accept-Language",
        },
    )


async def host(request: Request) -> HTMLResponse:
    """``GET /host``: the host control panel."""
    return await _page(request, "host.html")


async def guide(request: Request) -> HTMLResponse:
    """``GET /guide``: the shopping guide's workspace."""
    return await _page(request, "guide.html")


async def watch(request: Request) -> HTMLResponse:
    """``GET /watch/{session_id}?token=&share=``: the viewer demo of a live room; while the
    session is scheduled, its countdown and reservation page (the same link, shared by a
    guide before the live, opens the room once it is live)."""
    if await _scheduled(request, request.path_params["session_id"]):
        return await _page(request, "schedule.html")
    return await _page(request, "watch.html")


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


async def replay(request: Request) -> HTMLResponse:
    """``GET /replay/{session_id}`` and ``GET /clips/{clip_id}``: an ended session's replay, or
    one clip of it, with its product to buy."""
    return await _page(request, "replay.html")


async def pay(request: Request) -> HTMLResponse:
    """``GET /pay/{order_id}``: the development payment provider's pay page."""
    return await _page(request, "pay.html")


async def catalog(request: Request) -> Response:
    """``GET /i18n/{lang}.json``: the language's sentences, its files merged; cacheable (an
    ETag of its content, revalidated after five minutes)."""
    lang = request.path_params["lang"]
    if lang not in languages.SUPPORTED:
        raise ClientError(Code.NOT_FOUND, f"languages: {', '.join(languages.SUPPORTED)}")
    body = languages.catalog(lang)
    etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


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
    Route("/i18n/{lang}.json", catalog, methods=["GET"]),
    Mount("/static", StaticFiles(packages=[("live", "static")]), name="static"),
]
