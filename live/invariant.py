"""The stock invariant: Redis stock + held + sold == allocation, for every product of a session.

Contract: ``stock`` is the product's Redis level, ``held`` the units of its live holds in Redis,
``sold`` the units of its paid orders in the record, ``allocation`` the product's ``stock`` in
the record. A reserve moves units from stock to held, a payment from held to sold, an expiry or
cancel from held back to stock, so the sum never changes. Between two of those steps (a payment
committed in the record whose hold Redis has not dropped yet) the sum is briefly off, so a
product counts as inconsistent only when two readings a moment apart agree on a difference.
`watch` checks the live sessions periodically, logs a warning and keeps the count for
``/metrics``; `live inventory check SESSION` runs `check` once.
"""

import asyncio
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inventory import recovery
from inventory.errors import InventoryUnavailable
from inventory.stock import Stock
from live import sessions
from live.context import Context
from live.db.models import OrderRow, SessionRow
from live.db.unit import transaction
from live.orders import PAID
from realtime.cancellation import raise_if_cancelling
from realtime.errors import ClientError

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 5.0
CONFIRM_DELAY_S = 0.2


@dataclass(frozen=True, slots=True)
class Line:
    """One product's terms of the invariant."""

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
        return (
            f"{self.product_id} ({self.sku}): stock {stock} + held {self.held} + sold {self.sold}"
            f" vs allocation {self.allocation}: {verdict}"
        )


async def read(
    factory: async_sessionmaker[AsyncSession], redis: Redis, session_id: str
) -> list[Line]:
    """The invariant's terms for every product of a session, read now."""
    async with transaction(factory) as db:
        products = await sessions.products_of(db, session_id)
        sold_rows = await db.execute(
            select(OrderRow.product_id, func.sum(OrderRow.qty))
            .where(OrderRow.session_id == session_id, OrderRow.status == PAID)
            .group_by(OrderRow.product_id)
        )
    sold = {product_id: int(total) for product_id, total in sold_rows}
    levels = await Stock(redis).levels(session_id)
    held = await recovery.held(redis, session_id)
    return [
        Line(
            product_id=p.id,
            sku=p.sku,
            allocation=p.stock,
            stock=levels.get(p.id),
            held=held.get(p.id, 0),
            sold=sold.get(p.id, 0),
        )
        for p in products
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
            if settled.get(line.product_id) is None or not settled[line.product_id].consistent:
                settled[line.product_id] = line
        if all(line.consistent for line in settled.values()):
            break
    return list(settled.values())


class Watch:
    """The periodic check of every live session; `inconsistent` feeds ``/metrics``."""

    def __init__(self) -> None:
        self.inconsistent = 0

    async def once(self, ctx: Context) -> int:
        """Check every live session; returns (and keeps) the inconsistent products count."""
        async with transaction(ctx.db) as db:
            live = list(
                await db.scalars(select(SessionRow.id).where(SessionRow.status == sessions.LIVE))
            )
        found = 0
        for session_id in live:
            for line in await check(ctx.db, ctx.redis, session_id):
                if not line.consistent:
                    found += 1
                    log.warning("stock invariant broken in %s: %s", session_id, line.describe())
        self.inconsistent = found
        return found

    async def run(self, ctx: Context) -> None:
        """Check forever; an engine outage only delays the next pass."""
        while True:
            try:
                await self.once(ctx)
            except (ClientError, InventoryUnavailable) as exc:
                log.warning("stock invariant check failed, retrying: %s", exc)
            except Exception:
                log.exception("stock invariant check crashed, retrying")
            raise_if_cancelling()
            await asyncio.sleep(CHECK_INTERVAL_S)
