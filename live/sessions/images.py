"""Images of products and session covers: a URL, or an upload checked with Pillow and stored
once in the archive store under its content hash, served at ``/media/<brand>/<name>``.

Contract: an upload is at most `MAX_IMAGE_BYTES`, a PNG, JPEG or WebP image of at most
`MAX_PIXELS` pixels, or it is refused with ``invalid_request`` (``frame_too_large`` above the
size) and nothing is stored. Stored images are never replaced (their name is their hash), so a
URL handed out always shows the same picture. They are public like any product picture in a
shop: whoever has the URL sees the image, and the name cannot be guessed.
"""

import hashlib
import io
import re
import warnings
from typing import Any

from PIL import Image

from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.context import Context
from live.db.models import ProductRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from live.sessions.session_records import LIVE, load, product_view, t_ms
from replay.errors import ArchiveError, ArchiveNotFound

MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
MAX_URL_CHARS = 1000
#: Pillow's format name -> (file extension, media type).
FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
}
MEDIA_TYPES = dict(FORMATS.values())
_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")
_URL = re.compile(r"^(https?://[^\s]+|/media/[^\s]+)$")


def check_url(value: Any, name: str) -> str:
    """An image URL given in a body: ``http(s)://...`` or one of ours under ``/media/``."""
    if not isinstance(value, str) or not _URL.match(value.strip()):
        raise ClientError(Code.INVALID_REQUEST, f"{name} must be an http(s):// or /media/ URL")
    if len(value) > MAX_URL_CHARS:
        raise ClientError(Code.INVALID_REQUEST, f"{name} is limited to {MAX_URL_CHARS} characters")
    return value.strip()


def _extension(data: bytes) -> str:
    """The file extension of an acceptable image, or the refusal."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ClientError(Code.FRAME_TOO_LARGE, f"images are limited to {MAX_IMAGE_BYTES} bytes")
    try:
        # A small file may declare a huge picture: its size is checked before any decoding.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ClientError(Code.INVALID_REQUEST, f"images are limited to {MAX_PIXELS} px")
            image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning):
        unreadable = "the body is not a PNG, JPEG or WebP image"
        raise ClientError(Code.INVALID_REQUEST, unreadable) from None
    known = FORMATS.get(image.format or "")
    if known is None:
        raise ClientError(Code.INVALID_REQUEST, "images must be PNG, JPEG or WebP")
    return known[0]


async def store_upload(ctx: Context, brand: str, data: bytes) -> str:
    """Store an uploaded image once; returns its URL (``/media/<brand>/<hash>.<ext>``)."""
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{_extension(data)}"
    try:
        await ctx.store.put_once(f"media/{brand}/{name}", data)
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the image could not be stored: {exc}") from exc
    return f"/media/{brand}/{name}"


async def read(ctx: Context, brand: str, name: str) -> tuple[bytes, str]:
    """A stored image and its media type; ``not_found`` for any other name."""
    if not _NAME.match(name) or not re.match(r"^[A-Za-z0-9._:@-]{1,64}$", brand):
        raise ClientError(Code.NOT_FOUND, "no such image")
    try:
        data = await ctx.store.get(f"media/{brand}/{name}")
    except ArchiveNotFound:
        raise ClientError(Code.NOT_FOUND, "no such image") from None
    except ArchiveError as exc:
        raise ClientError(Code.UNAVAILABLE, f"the image could not be read: {exc}") from exc
    return data, MEDIA_TYPES[name.rsplit(".", 1)[1]]


async def check_target(
    ctx: Context, principal: Principal, session_id: str, product_id: str | None = None
) -> None:
    """Refuse an upload for a session (or product) the caller's brand does not have, before
    anything is stored."""
    async with transaction(ctx.db) as db:
        await load(db, principal.brand, session_id)
        if product_id is not None:
            product = await db.get(ProductRow, product_id)
            if product is None or product.session_id != session_id:
                raise ClientError(Code.NOT_FOUND, f"no product {product_id} in this session")


async def set_product_image(
    ctx: Context, principal: Principal, session_id: str, product_id: str, image_url: str
) -> ProductRow:
    """Show ``image_url`` for a product; a live room gets the product again (``product``)."""
    async with transaction(ctx.db) as db:
        session = await load(db, principal.brand, session_id)
        product = await db.get(ProductRow, product_id)
        if product is None or product.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no product {product_id} in this session")
        product.image_url = image_url
    if session.status == LIVE:
        ts = now_ms()
        event = {"product": product_view(product), "ts": ts, "t_ms": t_ms(session, ts)}
        await ctx.bus.publish(session_id, "product", event)
    return product


async def set_cover(ctx: Context, principal: Principal, session_id: str, cover_url: str) -> None:
    """Show ``cover_url`` as the session's cover (pages and posters)."""
    async with transaction(ctx.db) as db:
        session = await load(db, principal.brand, session_id)
        session.cover_url = cover_url
