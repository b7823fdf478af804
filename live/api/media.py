"""Image endpoints: upload a product's image or a session's cover, and serve stored images."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common.errors import ClientError, Code
from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.sessions import images, session_records

HOSTS = (Role.HOST, Role.ADMIN)


async def _upload(request: Request) -> bytes:
    """The raw image body, read up to its limit (`images.MAX_IMAGE_BYTES`)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > images.MAX_IMAGE_BYTES:
            raise ClientError(
                Code.FRAME_TOO_LARGE, f"images are limited to {images.MAX_IMAGE_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def upload_product_image(request: Request) -> JSON:
    """``POST /api/sessions/{id}/products/{product_id}/image`` (host, admin), the image as the
    body: stored, and shown for the product (a live room gets ``product``)."""
    caller = req.principal(request, *HOSTS)
    ctx = req.context(request)
    session_id, product_id = request.path_params["session_id"], request.path_params["product_id"]
    await images.check_target(ctx, caller, session_id, product_id)
    url = await images.store_upload(ctx, caller.brand, await _upload(request))
    row = await images.set_product_image(ctx, caller, session_id, product_id, url)
    return JSON(session_records.product_view(row))


async def upload_cover(request: Request) -> JSON:
    """``POST /api/sessions/{id}/cover`` (host, admin), the image as the body: the session's
    cover, for its pages and the guides' posters."""
    caller = req.principal(request, *HOSTS)
    ctx = req.context(request)
    session_id = request.path_params["session_id"]
    await images.check_target(ctx, caller, session_id)
    url = await images.store_upload(ctx, caller.brand, await _upload(request))
    await images.set_cover(ctx, caller, session_id, url)
    return JSON({"session_id": session_id, "cover_url": url})


async def image(request: Request) -> Response:
    """``GET /media/{brand}/{name}``: a stored image (no token: pages and mini programs show
    it in an ``<img>``)."""
    data, media_type = await images.read(
        req.context(request), request.path_params["brand"], request.path_params["name"]
    )
    # The name is the content's hash: the bytes behind it never change.
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    return Response(data, media_type=media_type, headers=headers)


routes = [
    Route(
        "/api/sessions/{session_id}/products/{product_id}/image",
        upload_product_image,
        methods=["POST"],
    ),
    Route("/api/sessions/{session_id}/cover", upload_cover, methods=["POST"]),
    Route("/media/{brand}/{name}", image, methods=["GET"]),
]
