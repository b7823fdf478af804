"""Sessions as records: their statuses, loading one of a brand, listing a brand's sessions, the
session clock, and their JSON shapes as the public contract shows them.

Nothing here takes the node's context: use cases (`live.sessions.lifecycle` and the other
domains) call these with their own database session.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common import codec
from common.errors import ClientError, Code
from inventory import keys as inventory_keys
from live.db.models import ProductRow, SessionRow

#: A session's statuses: ``draft`` (or ``scheduled``: announced with a start time, open to
#: reservations) -> ``live`` -> ``ended``, never back.
DRAFT, SCHEDULED, LIVE, ENDED = "draft", "scheduled", "live", "ended"
#: Before the session went live: products, cover and start time may still be set.
NOT_STARTED = frozenset({DRAFT, SCHEDULED})

MAX_LISTED = 100


async def load(db: AsyncSession, brand: str, session_id: str) -> SessionRow:
    """The session ``session_id`` of ``brand``; another brand's session does not exist."""
    row = await db.get(SessionRow, session_id)
    if row is None or row.brand != brand:
        raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
    return row


async def products_of(db: AsyncSession, session_id: str) -> list[ProductRow]:
    """Products of a session in the order they were added."""
    result = await db.scalars(
        select(ProductRow)
        .where(ProductRow.session_id == session_id)
        .order_by(ProductRow.created_ms, ProductRow.id)
    )
    return list(result)


async def of_brand(
    db: AsyncSession, brand: str, *, status: str | None = None, limit: int = MAX_LISTED
) -> list[SessionRow]:
    """Up to ``limit`` sessions of ``brand`` (of one ``status`` when given), newest first."""
    query = select(SessionRow).where(SessionRow.brand == brand)
    if status is not None:
        query = query.where(SessionRow.status == status)
    query = query.order_by(SessionRow.created_ms.desc(), SessionRow.id.desc()).limit(limit)
    return list(await db.scalars(query))


def t_ms(row: SessionRow, ts: int) -> int:
    """Milliseconds since the session started (0 before it started)."""
    return since_start(row.started_ms, ts)


def since_start(started_ms: int | None, ts: int) -> int:
    """Milliseconds from a session's ``started_ms`` to ``ts`` (0 before it started)."""
    return ts - started_ms if started_ms is not None else 0


def options_of(row: ProductRow) -> dict[str, str]:
    """The options that tell a variant from the others of its group (``{}`` for none)."""
    options: dict[str, str] = codec.decode(row.options) if row.options else {}
    return options


def product_view(
    row: ProductRow, *, stock: int | None = None, sale: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A product; ``stock`` is the live level when known, the allocation otherwise; ``sale``
    its open flash sale (with the units ``left`` under the sale's cap), if any."""
    return {
        "product_id": row.id,
        "sku": row.sku,
        "title": row.title,
        "price_cents": row.price_cents,
        "stock": row.stock if stock is None else stock,
        "limit_per_viewer": row.limit_per_viewer,
        "image_url": row.image_url,
        "group_id": row.group_id,
        "options": options_of(row),
        "sale": sale,
    }


def with_left(sales: list[dict[str, Any]], levels: dict[str, int]) -> list[dict[str, Any]]:
    """Open sales with ``left``: the units still sold at the sale price (Redis's count under
    the sale's cap; the whole cap when Redis has none)."""
    return [
        {**sale, "left": levels.get(inventory_keys.sale_field(sale["sale_id"]), sale["stock_cap"])}
        for sale in sales
    ]


def catalog(
    products: list[ProductRow], levels: dict[str, int], sales: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every product of a session with its live level (its allocation when Redis has none)
    and its open sale (``sales`` from `with_left`)."""
    by_product = {sale["product_id"]: sale for sale in sales}
    return [product_view(p, stock=levels.get(p.id), sale=by_product.get(p.id)) for p in products]


def view(
    row: SessionRow,
    products: list[ProductRow],
    levels: dict[str, int],
    ws_url: str,
    sales: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A session with its products, live stock levels and open flash sales."""
    open_sales = with_left(sales or [], levels)
    return {
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "host_id": row.host_id,
        "ws_url": ws_url,
        "pinned_product_id": row.pinned_product_id,
        "products": catalog(products, levels, open_sales),
        "sales": open_sales,
        "cover_url": row.cover_url,
        "video_url": row.video_url,
        "created_at": row.created_ms,
        "starts_at": row.starts_ms,
        "started_at": row.started_ms,
        "ended_at": row.ended_ms,
    }
