"""What an order of a product buys at, cached per node so that a flash crowd does not queue in SQL.

Contract: `TermsCache.get` answers a product's terms (its session's status and clock, price,
per-viewer limit, open flash sale) from memory, reading the record on a miss; concurrent misses
of one product share one read. Each entry carries the session's *terms version*
(`inventory.keys.terms`), read from Redis before the record: every change of terms (start, end,
price changed, sale opened or closed) bumps it after its transaction commits, and the reserve
script refuses a hold whose version is not the current one (``stale_terms``). So a cached entry
is never used to take stock after its terms changed; at worst it costs one refresh.
`TTL_S` bounds an entry's age anyway, in case a bump was lost with Redis.
"""

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import ClientError, Code
from inventory import keys as inventory_keys
from live.commerce import order_records
from live.db.models import ProductRow, SaleRow, SessionRow
from live.db.unit import transaction

TTL_S = 5.0
#: Entries kept per node; the oldest are dropped beyond this (a node serves a few live sessions).
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class SaleTerms:
    """The open flash sale of a product, as far as an order needs it."""

    sale_id: str
    sale_price_cents: int
    per_viewer_limit: int | None
    starts_ms: int
    ends_ms: int

    @classmethod
    def of(cls, row: SaleRow) -> "SaleTerms":
        """The terms of a sale row."""
        return cls(row.id, row.sale_price_cents, row.per_viewer_limit, row.starts_ms, row.ends_ms)

    def check_window(self, now: int) -> None:
        """Refuse an order of the sale's product outside its window."""
        if now < self.starts_ms:
            raise ClientError(Code.SALE_NOT_OPEN, "the flash sale of this product has not started")
        if now >= self.ends_ms:
            raise ClientError(Code.SALE_NOT_OPEN, "the flash sale of this product has ended")


@dataclass(frozen=True, slots=True)
class ProductTerms:
    """A product's terms with its session's, read at terms version ``version``."""

    brand: str
    session_id: str
    session_status: str
    started_ms: int | None
    product_id: str
    price_cents: int
    limit_per_viewer: int | None
    sale: SaleTerms | None
    version: int

    def t_ms(self, ts: int) -> int:
        """Milliseconds since the session started (0 before it started)."""
        return ts - self.started_ms if self.started_ms is not None else 0


async def current_version(redis: Redis, session_id: str) -> int:
    """The session's terms version (0 before the first change)."""
    raw = await redis.get(inventory_keys.terms(session_id))
    return int(raw) if raw is not None else 0


class TermsCache:
    """Per-node cache of product terms, checked against the terms version by every reserve."""

    def __init__(self, redis: Redis, db: async_sessionmaker[AsyncSession]) -> None:
        self._redis = redis
        self._db = db
        self._entries: dict[str, tuple[float, ProductTerms]] = {}
        self._reading: dict[str, asyncio.Task[ProductTerms]] = {}

    async def get(self, brand: str, session_id: str, product_id: str) -> ProductTerms:
        """The product's terms; ``not_found`` for another brand's session or product."""
        now = asyncio.get_running_loop().time()
        cached = self._entries.get(product_id)
        if cached is None or now - cached[0] > TTL_S:
            reading = self._reading.get(product_id)
            if reading is None:
                reading = asyncio.create_task(self._read(session_id, product_id))
                self._reading[product_id] = reading
                reading.add_done_callback(lambda _: self._reading.pop(product_id, None))
            terms = await asyncio.shield(reading)
        else:
            terms = cached[1]
        # Checked on every answer, cached or not: a cached entry must not leak across brands.
        if terms.brand != brand:
            raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
        if terms.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no product {product_id} in this session")
        return terms

    def forget(self, session_id: str) -> None:
        """Drop the session's entries (after a reserve said its terms changed)."""
        for product_id in [p for p, (_, t) in self._entries.items() if t.session_id == session_id]:
            del self._entries[product_id]

    async def _read(self, session_id: str, product_id: str) -> ProductTerms:
        # The version is read before the record: a change committed after this read bumps the
        # version past it, so the reserve refuses what this entry says.
        try:
            version = await current_version(self._redis, session_id)
        except RedisError as exc:
            raise ClientError(Code.UNAVAILABLE, "sales are unavailable; retry") from exc
        async with transaction(self._db) as db:
            # Not filtered by brand here: a read may be shared by callers of several brands,
            # and `get` checks the brand of every answer.
            session = await db.get(SessionRow, session_id)
            if session is None:
                raise ClientError(Code.NOT_FOUND, f"no session {session_id}")
            product = await db.get(ProductRow, product_id)
            if product is None or product.session_id != session_id:
                raise ClientError(Code.NOT_FOUND, f"no product {product_id} in this session")
            sale = await order_records.active_sale(db, product.id)
        terms = _terms(session, product, sale, version)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.pop(next(iter(self._entries)))
        self._entries[product_id] = (asyncio.get_running_loop().time(), terms)
        return terms


def _terms(
    session: SessionRow, product: ProductRow, sale: SaleRow | None, version: int
) -> ProductTerms:
    return ProductTerms(
        brand=session.brand,
        session_id=session.id,
        session_status=session.status,
        started_ms=session.started_ms,
        product_id=product.id,
        price_cents=product.price_cents,
        limit_per_viewer=product.limit_per_viewer,
        sale=SaleTerms.of(sale) if sale is not None else None,
        version=version,
    )
