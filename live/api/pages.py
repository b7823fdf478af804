"""Web pages: the viewer's watch page that share URLs open."""

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route


async def watch(_request: Request) -> HTMLResponse:
    """``GET /watch/{session_id}?token=&share=``: a minimal live room in the browser."""
    page = resources.files("live").joinpath("static", "watch.html").read_text("utf-8")
    return HTMLResponse(page)


routes = [Route("/watch/{session_id}", watch, methods=["GET"])]
