"""The stock invariant: Redis stock + held + sold == allocation, for every product of a session
and for the cap of every open flash sale.

Contract: ``stock`` is the product's Redis level, ``held`` the units of its live holds in Redis
(waitlist offers included), ``sold`` the units of its paid orders in the record (and of refunded
ones whose units were shipped, not put back; not those bought from a clip after the end, which
never touch Redis), ``allocation`` the product's ``stock`` in the record. A reserve (or an
offer) moves units from stock to held, a payment from held to sold, an expiry or cancel from
held back to stock, so the sum never changes. Between two of those steps (a payment
committed in the record whose hold Redis has not dropped yet) the sum is briefly off, so a
product counts as inconsistent only when two readings a moment apart agree on a difference.
`watch` checks the live sessions periodically, logs a warning and keeps the count for
``/metrics``; `live inventory check SESSION` runs `check` once. An open flash sale's cap is
held to the same sum: its Redis field, the units of holds taken in the sale, the paid units of
the sale's orders, against ``stock_cap``.
"""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common import loops
from inventory import recovery
from inventory.keys import sale_field
from inventory.stock import Stock
from live.commerce.order_records import PAID, REFUNDED, SALE_OPEN
from live.db.models import OrderRow, SaleRow, SessionRow
from live.db.unit import transaction
from live.sessions import session_records

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 5.0
CONFIRM_DELAY_S = 0.2


@dataclass(frozen=True, slots=True)
class Line:
    """One product's (or one open sale's) terms of the invariant.

    ``counter`` is the Redis stock field: the product id, or ``sale:<id>`` for a sale's cap.
    """

    counter: str
    product_id: str
    sku: str
    allocation: int
    stock: int | None
    held: int
    sold: int

    @property
    def consistent(self) -> bool:
        """True when stock + held + sold == allocation (a product not loaded never is)."""
        return self.stock is not None and self.stock + self.held + self.sold == self.allocation

    def describe(self) -> str:
        """One readable line."""
        stock = "missing" if self.stock is None else str(self.stock)
        verdict = "ok" if self.consistent else "INCONSISTENT"
        name = f"{self.product_id} ({self.sku})"
        if self.counter != self.product_id:
            name = f"{self.counter} cap of {name}"
        return (
            f"{name}: stock {stock} + held {self.held} + sold {self.sold}"
            f" vs allocation {self.allocation}: {verdict}"
        )


async def read(
    factory: async_sessionmaker[AsyncSession], redis: Redis, session_id: str
) -> list[Line]:
    """The invariant's terms for every product of a session, read now."""
    async with transaction(factory) as db:
        products = await session_records.products_of(db, session_id)
        open_sales = list(
            await db.scalars(
                select(SaleRow).where(SaleRow.session_id == session_id, SaleRow.status == SALE_OPEN)
            )
        )
        sold_rows = await db.execute(
            select(OrderRow.product_id, OrderRow.sale_id, func.sum(OrderRow.qty))
            # Orders bought from a clip after the end never touched Redis (`live.clips.purchases`).
            .where(
                OrderRow.session_id == session_id,
                # A refund shipped units do not come back from: they stay sold.
                or_(
                    OrderRow.status == PAID,
                    and_(OrderRow.status == REFUNDED, OrderRow.restocked_ms.is_(None)),
                ),
                OrderRow.clip_id.is_(None),
            )
            .group_by(OrderRow.product_id, OrderRow.sale_id)
        )
    sold: dict[str, int] = defaultdict(int)
    for product_id, sale_id, total in sold_rows:
        sold[product_id] += int(total)
        if sale_id is not None:
            sold[sale_field(sale_id)] += int(total)
    levels = await Stock(redis).levels(session_id)
    held = await recovery.held(redis, session_id)
    skus = {p.id: p.sku for p in products}
    counters = [(p.id, p.id, p.stock) for p in products] + [
        (sale_field(sale.id), sale.product_id, sale.stock_cap) for sale in open_sales
    ]
    return [
        Line(
            counter=counter,
            product_id=product_id,
            sku=skus.get(product_id, "?"),
            allocation=allocation,
            stock=levels.get(counter),
            held=held.get(counter, 0),
            sold=sold.get(counter, 0),
        )
        for counter, product_id, allocation in counters
    ]


async def check(
    factory: async_sessionmaker[AsyncSession],
    redis: Redis,
    session_id: str,
    *,
    readings: int = 3,
) -> list[Line]:
    """The session's lines; a product is reported inconsistent only if every reading says so."""
    settled: dict[str, Line] = {}
    for attempt in range(readings):
        if attempt:
            await asyncio.sleep(CONFIRM_DELAY_S)
        for line in await read(factory, redis, session_id):
            if settled.get(line.counter) is None or not settled[line.counter].consistent:
                settled[line.counter] = line
        if all(line.consistent for line in settled.values()):
            break
    return list(settled.values())


class Watch:
    """The periodic check of every live session; `inconsistent` feeds ``/metrics``."""

    def __init__(self, db: async_sessionmaker[AsyncSession], redis: Redis) -> None:
        self._db = db
        self._redis = redis
        self.inconsistent = 0
        self._stopping: asyncio.Event | None = None

    async def once(self) -> int:
        """Check every live session; returns (and keeps) the inconsistent products count.

        A pass of a stopping node (`run`'s ``stopping`` set) ends between two sessions: it
        holds no transaction there, and a node with many live sessions (each re-read up to
        three times when it drifts) would otherwise make its shutdown wait for all of them."""
        async with transaction(self._db) as db:
            live = list(
                await db.scalars(
                    select(SessionRow.id).where(SessionRow.status == session_records.LIVE)
                )
            )
        found = 0
        for session_id in live:
            if self._stopping is not None and self._stopping.is_set():
                return found
            for line in await check(self._db, self._redis, session_id):
                if not line.consistent:
                    found += 1
                    log.warning("stock invariant broken in %s: %s", session_id, line.describe())
        self.inconsistent = found
        return found

    async def run(self, stopping: asyncio.Event) -> None:
        """Check until ``stopping`` is set; an engine outage only delays the next pass."""
        self._stopping = stopping
        await loops.forever(
            self.once,
            every_s=CHECK_INTERVAL_S,
            doing="stock invariant check",
            log=log,
            stopping=stopping,
        )
