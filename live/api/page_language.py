"""The language of a page request, decided on the server so that ``<html lang>`` is right from
the first byte: ``?lang=``, then the brand's setting, then ``Accept-Language``, then English.

The brand of a page is the one its URL names: the session of ``/watch`` and ``/replay``, the
clip of ``/clips``, the order of ``/pay``, the verified ``?token=`` of ``/host`` and ``/guide``
(a page opened without one has no brand until its sign-in, and follows the browser).
"""

from sqlalchemy import select
from starlette.requests import Request

from common.errors import ClientError
from live.api import request as req
from live.auth import tokens
from live.db.models import ClipRow, OrderRow, SessionRow
from live.db.unit import transaction
from live.platform import languages

_ROWS: dict[str, type[SessionRow | ClipRow | OrderRow]] = {
    "session_id": SessionRow,
    "clip_id": ClipRow,
    "order_id": OrderRow,
}


async def _brand(request: Request) -> str | None:
    """The brand the page's URL names, or None."""
    ctx = req.context(request)
    for param, row_type in _ROWS.items():
        row_id = request.path_params.get(param)
        if row_id is not None:
            async with transaction(ctx.db) as db:
                brand: str | None = await db.scalar(
                    select(row_type.brand).where(row_type.id == row_id)
                )
            return brand
    token = request.query_params.get("token")
    if token:
        try:
            return tokens.verify(token, ctx.settings.secret).brand
        except ClientError:
            return None  # the page itself says the link is not valid
    return None


async def choose(request: Request) -> str:
    """The language the page at ``request`` speaks."""
    asked = languages.supported(request.query_params.get("lang"))
    if asked is not None:
        return asked  # no brand read needed
    brand = await _brand(request)
    setting = (await req.context(request).policies.get(brand)).language if brand else None
    return languages.choose(
        asked=None, brand=setting, accept_language=request.headers.get("accept-language")
    )
