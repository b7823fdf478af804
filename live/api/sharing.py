"""Sharing endpoints: a guide's share code and short link for a session (or a clip), its QR
code and poster, revoking a short link, and opening one (``/s/{code}``, or its target for a
mini program's ``scene``)."""

import html
import io
import time
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import page_language
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.clips import library
from live.context import Context
from live.db.models import ClipRow, GuideRow, ProductRow, SessionRow, ShortLinkRow, StoreRow
from live.db.unit import transaction
from live.guides import posters, share_codes, short_links
from live.platform import languages
from live.sessions import images, session_records


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _target(link: ShortLinkRow) -> str:
    """The page a short link opens, with its signed share code."""
    if link.clip_id is not None:
        return f"/clips/{link.clip_id}?share={link.share_code}"
    return f"/watch/{link.session_id}?share={link.share_code}"


async def _check_clip(ctx: Context, session: SessionRow, clip_id: str) -> None:
    """Refuse a ``clip_id`` that is not a clip of the (ended) session."""
    if session.status != session_records.ENDED:
        raise ClientError(Code.NOT_FOUND, "a session has clips once it ended")
    if session.archive_deleted_ms is not None:
        raise ClientError(Code.ARCHIVE_DELETED, "the archive of this session was deleted")
    if clip_id not in {row.id for row in await library.of_session(ctx, session)}:
        raise ClientError(Code.NOT_FOUND, f"no clip {clip_id} in this session")


async def _issue(request: Request) -> tuple[SessionRow, ShortLinkRow]:
    """The calling guide's share code and short link for ``?session_id=`` (and ``clip_id=``):
    a fresh signed code, and the guide's live short link (made with that code if none)."""
    caller = req.principal(request, Role.GUIDE)
    session_id = request.query_params.get("session_id", "")
    if not session_id:
        raise ClientError(Code.INVALID_REQUEST, "session_id is required")
    clip_id = request.query_params.get("clip_id") or None
    ctx = req.context(request)
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, caller.brand, session_id)
    if clip_id is not None:
        await _check_clip(ctx, session, clip_id)
    expires_s = int(time.time()) + ctx.settings.share_code_ttl_s
    code = share_codes.issue(
        ctx.settings.secret,
        share_codes.ShareCode(
            guide_id=caller.sub,
            brand=caller.brand,
            session_id=session_id,
            store=caller.store,
            expires_s=expires_s,
            clip_id=clip_id,
        ),
    )
    link = await short_links.for_guide(
        ctx,
        caller,
        session_id=session_id,
        clip_id=clip_id,
        share_code=code,
        expires_ms=expires_s * 1000,
    )
    return session, link


async def share(request: Request) -> JSON:
    """``GET /api/guides/me/share?session_id=&clip_id=`` -> {code, url, short_code, short_url,
    qr_svg}: the QR code is the short link's (a smaller, sparser code)."""
    session, link = await _issue(request)
    short_url = f"{_base(request)}/s/{link.code}"
    body: dict[str, Any] = {
        "code": link.share_code,
        "url": _base(request) + _target(link),
        "short_code": link.code,
        "short_url": short_url,
        # No fixed size (a viewBox only): pages scale the code to their layout.
        "qr_svg": segno.make(short_url, error="m").svg_inline(scale=4, omitsize=True),
        "session_id": session.id,
    }
    if link.clip_id is not None:
        body["clip_id"] = link.clip_id
    return JSON(body)


async def share_png(request: Request) -> Response:
    """``GET /api/guides/me/share.png?session_id=&scale=``: the short link's QR code as a PNG
    (``scale`` pixels per module, 4-40, default 12; a 4-module quiet zone)."""
    scale = req.query_integer(request, "scale", minimum=4, maximum=40) or 12
    _, link = await _issue(request)
    image = io.BytesIO()
    segno.make(f"{_base(request)}/s/{link.code}", error="m").save(
        image, kind="png", scale=scale, border=4
    )
    return Response(image.getvalue(), media_type="image/png")


async def _stored_image(ctx: Context, url: str | None) -> bytes | None:
    """An image the server stored (``/media/<brand>/<name>``); None for any other URL."""
    if not url or not url.startswith("/media/"):
        return None
    _, _, brand, name = url.split("/", 3)
    try:
        return (await images.read(ctx, brand, name))[0]
    except ClientError:
        return None


async def poster(request: Request) -> Response:
    """``GET /api/guides/me/poster.png?session_id=&clip_id=``: the guide's share poster (the
    title, the cover or the product's picture, the guide's name and store, the QR code of the
    guide's short link)."""
    caller = req.principal(request, Role.GUIDE)
    ctx = req.context(request)
    session, link = await _issue(request)
    async with transaction(ctx.db) as db:
        guide = await db.get(GuideRow, (caller.brand, caller.sub))
        store_id = (guide.store_id if guide else None) or caller.store
        store = await db.get(StoreRow, (caller.brand, store_id)) if store_id else None
        clip = await db.get(ClipRow, link.clip_id) if link.clip_id else None
        product_id = clip.product_id if clip else session.pinned_product_id
        products = await session_records.products_of(db, session.id)
    product: ProductRow | None = next((p for p in products if p.id == product_id), None)
    product = product or (products[0] if products else None)
    image = None if clip else await _stored_image(ctx, session.cover_url)
    if image is None and product is not None:
        image = await _stored_image(ctx, product.image_url)
    text = posters.PosterText(
        title=clip.title if clip else session.title,
        guide_name=(guide.name if guide else None) or caller.name or caller.sub,
        store_name=store.name if store else store_id,
        short_url=f"{_base(request)}/s/{link.code}",
        product_title=product.title if product else None,
    )
    png = posters.draw_poster(text, image)
    return Response(png, media_type="image/png")


async def revoke(request: Request) -> JSON:
    """``DELETE /api/guides/me/share/{code}`` (guide): withdraw one of my short links."""
    caller = req.principal(request, Role.GUIDE)
    link = await short_links.revoke(req.context(request), caller, request.path_params["code"])
    return JSON({"short_code": link.code, "revoked_at": link.revoked_ms})


async def resolve(request: Request) -> JSON:
    """``GET /api/share/{code}`` (no token): what a short code stands for, for a mini program
    opened with it as ``scene``: {session_id, clip_id, share, path}."""
    link = await short_links.resolve(req.context(request), request.path_params["code"])
    return JSON(
        {
            "session_id": link.session_id,
            "clip_id": link.clip_id,
            "share": link.share_code,
            "path": _target(link),
        }
    )


async def open_link(request: Request) -> Response:
    """``GET /s/{code}``: the short link's page (a redirect), or a page saying it is gone."""
    try:
        link = await short_links.resolve(req.context(request), request.path_params["code"])
    except ClientError as exc:
        if exc.code not in (Code.NOT_FOUND, Code.LINK_REVOKED):
            raise
        lang = await page_language.choose(request)
        gone = "common.link_not_found" if exc.code == Code.NOT_FOUND else "errors.link_revoked"
        title = html.escape(languages.sentence(lang, "common.link_unavailable"))
        page = (
            f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{title}</title>'
            '<link rel="stylesheet" href="/static/pages.css"><main class="card" '
            f'style="max-width:26rem;margin:3rem auto"><h2>{title}</h2>'
            f"<p>{html.escape(languages.sentence(lang, gone))}</p></main>"
        )
        return HTMLResponse(page, status_code=exc.status, headers={"Vary": "Accept-Language"})
    return RedirectResponse(_target(link), status_code=302)


routes = [
    Route("/api/guides/me/share", share, methods=["GET"]),
    Route("/api/guides/me/share.png", share_png, methods=["GET"]),
    Route("/api/guides/me/poster.png", poster, methods=["GET"]),
    Route("/api/guides/me/share/{code}", revoke, methods=["DELETE"]),
    Route("/api/share/{code}", resolve, methods=["GET"]),
    Route("/s/{code}", open_link, methods=["GET"]),
]
