"""A shared clip by its id alone: what the clip page (``/clips/{clip_id}``) reads first."""

from starlette.requests import Request
from starlette.routing import Route

from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.clips import library, stats
from live.db.models import ProductRow
from live.db.unit import transaction
from live.guides import arrivals
from live.sessions import session_records


async def get_clip(request: Request) -> JSON:
    """``GET /api/clips/{clip_id}?share=`` (any role of the brand): the clip, its session's
    title and recorded video, and its product as it sells now (the record's units left). A
    viewer arriving with a guide's share code touches the guide, as the session's clip
    endpoint does, and counts one view."""
    caller = req.principal(request)
    ctx = req.context(request)
    session, clip = await library.find(ctx, caller.brand, request.path_params["clip_id"])
    if caller.role == Role.VIEWER:
        share = request.query_params.get("share")
        if share:
            await arrivals.from_share(ctx, caller, session.id, share, clip_id=clip.id)
        await stats.count_view(ctx, clip, caller.sub)
    async with transaction(ctx.db) as db:
        product = await db.get(ProductRow, clip.product_id)
    left = None if product is None else max(0, product.stock - product.committed_qty)
    return JSON(
        {
            **library.view(clip, offset_ms=ctx.settings.clip_offset_ms),
            "session_title": session.title,
            "session_status": session.status,
            "video_url": session.video_url,
            "cover_url": session.cover_url,
            "product": session_records.product_view(product, stock=left) if product else None,
        }
    )


routes = [Route("/api/clips/{clip_id}", get_clip, methods=["GET"])]
