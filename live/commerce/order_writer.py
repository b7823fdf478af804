"""Writing reserved orders to the record: the record's own checks, one order or a batch at once.

Contract: an attributed order is written with its guide's upstream guide (from the organisation,
`live.guides.organisation`). An order is written only if its session is still live, its product's
open sale is the one it was priced in, its product is still on the stock generation its reserve
reported (`live.commerce.stock_recovery`), and ``committed_qty`` (and the sale's ``sold_qty``) stay
within the allocation (and the cap); otherwise `ClientError` says why and nothing of it is written.

`OrderWriter` is group commit: while one batch is being written, the orders that arrive queue
up, and the next batch writes all of them at once. In a flash sale every order updates the same
product row, so one order at a time would make each buyer wait for all those before it; a batch
holds that lock once. A batch is written whole or not at all:

- on PostgreSQL, a batch of one product, stock generation and sale (or none), a flash sale's
  case, is one statement in autocommit (`order_statements.WRITE_AT_ONCE`). Under a flood of
  refused attempts each reply waits a turn of the busy event loop, so a batch costs its round
  trips: the pool's pre-ping and the statement, where a transaction adds BEGIN, one statement
  per conditional update and COMMIT;
- any other batch, and every batch on SQLite (no data-modifying CTEs), is one transaction with
  one conditional update per product (generation, sale) and sale, then the insert.

If a batch is refused as a whole (a limit reached, a stale generation, a constraint), its orders
are written again one by one, so each gets its own answer.
"""

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common.errors import ClientError, Code, DatabaseUnavailable
from live.commerce import order_records, order_statements
from live.db.models import CouponClaimRow, GuideRow, OrderRow, ProductRow, SaleRow, SessionRow
from live.db.side_loop import SideLoop
from live.db.unit import autocommit, transaction
from live.sessions import session_records

log = logging.getLogger(__name__)

#: Orders written in one batch at most.
MAX_BATCH = 256
#: How long after a batch the writer still counts as busy (`OrderWriter.busy`): the next
#: buyers' reserves are on their way, and their batch follows within a few milliseconds.
BUSY_AFTER_S = 0.05


def _stale_terms() -> ClientError:
    return ClientError(Code.SALE_PAUSED, "the terms of this sale just changed; retry")


class _BatchRefused(Exception):
    """A conditional update of the batch did not hold: write its orders one by one."""


async def _check_terms(db: AsyncSession, orders: list[OrderRow]) -> dict[str, ClientError]:
    """Orders whose session is no longer live or whose sale changed, with the reason."""
    session_ids = {order.session_id for order in orders}
    statuses: dict[str, str] = dict(
        (
            await db.execute(
                select(SessionRow.id, SessionRow.status).where(SessionRow.id.in_(session_ids))
            )
        ).all()
    )
    product_ids = {order.product_id for order in orders}
    open_sales: dict[str, str] = dict(
        (
            await db.execute(
                select(SaleRow.product_id, SaleRow.id).where(
                    SaleRow.product_id.in_(product_ids), SaleRow.status == order_records.SALE_OPEN
                )
            )
        ).all()
    )
    refused: dict[str, ClientError] = {}
    for order in orders:
        status = statuses.get(order.session_id)
        if status != session_records.LIVE:
            refused[order.id] = ClientError(Code.SESSION_NOT_LIVE, f"the session is {status}")
        elif open_sales.get(order.product_id) != order.sale_id:
            # The terms came from a cache checked by the reserve; the record judges them too,
            # for the case where a change could not be announced to Redis.
            refused[order.id] = _stale_terms()
    return refused


async def fill_upstream(db: AsyncSession, orders: list[OrderRow]) -> None:
    """Write each attributed order's upstream guide, as the organisation has it now."""
    wanted = {(order.brand, order.guide_id) for order in orders if order.guide_id is not None}
    if not wanted:
        return
    rows = await db.execute(
        select(GuideRow.brand, GuideRow.id, GuideRow.upstream_guide_id).where(
            GuideRow.id.in_({guide_id for _, guide_id in wanted})
        )
    )
    upstream = {(brand, guide_id): up for brand, guide_id, up in rows}
    for order in orders:
        if order.guide_id is not None:
            order.upstream_guide_id = upstream.get((order.brand, order.guide_id))


async def record(
    factory: async_sessionmaker[AsyncSession],
    order: OrderRow,
    claim: CouponClaimRow | None,
    *,
    generation: int,
) -> None:
    """Write one order in its own transaction, or raise `ClientError` saying why not."""
    async with transaction(factory) as db:
        await record_in(db, order, claim, generation=generation)


async def record_in(
    db: AsyncSession, order: OrderRow, claim: CouponClaimRow | None, *, generation: int
) -> None:
    """`record` within the caller's transaction (a waitlist offer writes its entry with it);
    the caller rolls back on the `ClientError`."""
    refused = await _check_terms(db, [order])
    if order.id in refused:
        raise refused[order.id]
    await fill_upstream(db, [order])
    taken = await db.execute(
        update(ProductRow)
        .where(
            ProductRow.id == order.product_id,
            ProductRow.stock_generation == generation,
            ProductRow.committed_qty + order.qty <= ProductRow.stock,
        )
        .values(committed_qty=ProductRow.committed_qty + order.qty)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        current = await db.scalar(
            select(ProductRow.stock_generation).where(ProductRow.id == order.product_id)
        )
        if current != generation:
            raise ClientError(Code.SALE_PAUSED, "sales of this session are paused; retry shortly")
        raise ClientError(Code.SOLD_OUT, "the product is sold out")
    if order.sale_id is not None:
        capped = await db.execute(
            update(SaleRow)
            .where(SaleRow.id == order.sale_id, SaleRow.sold_qty + order.qty <= SaleRow.stock_cap)
            .values(sold_qty=SaleRow.sold_qty + order.qty)
        )
        if capped.rowcount != 1:  # type: ignore[attr-defined]
            raise ClientError(Code.SOLD_OUT, "the flash sale is sold out")
    if claim is not None:
        used = await db.execute(
            update(CouponClaimRow)
            .where(CouponClaimRow.id == claim.id, CouponClaimRow.order_id.is_(None))
            .values(order_id=order.id)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise ClientError(Code.COUPON_NOT_CLAIMED, "the coupon was used meanwhile")
    await db.execute(order_statements.INSERT_ORDERS, [order_statements.row(order)])


@dataclass(slots=True)
class _Pending:
    order: OrderRow
    generation: int
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class OrderWriter:
    """Group commit of reserved orders (orders with a coupon are written on their own)."""

    def __init__(
        self, factory: async_sessionmaker[AsyncSession], *, side: SideLoop | None = None
    ) -> None:
        """Batches on ``factory``'s database; the one-statement batches on PostgreSQL run on
        ``side``'s loop and engine when given (`live.db.side_loop`), else on the caller's."""
        self._factory = factory
        self._side = side
        bind = factory.kw.get("bind")
        # Data-modifying CTEs, which one statement per batch needs, are PostgreSQL's.
        self._one_statement: AsyncEngine | None = (
            bind if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql" else None
        )
        self._queue: list[_Pending] = []
        self._writing: asyncio.Task[None] | None = None
        #: When (`time.monotonic`) the last batch ended.
        self._written_at = float("-inf")
        self.batches = 0

    async def prepare(self) -> None:
        """Run each one-statement batch once with no orders (nothing is written), so that the
        statements are compiled on the engine and prepared on the connection that writes them
        before a sale's first batch: that batch took 23-36 ms against 8-15 for the next ones
        (docs/benchmarks.md, "Ticks that give way to the orders being written"). Best effort:
        a failure leaves that work to the first batch."""
        if self._one_statement is None:
            return

        async def execute(on: AsyncEngine) -> None:
            async with autocommit(on) as connection:
                for statement in (
                    order_statements.WRITE_AT_ONCE,
                    order_statements.WRITE_SALE_AT_ONCE,
                ):
                    await connection.execute(statement, order_statements.no_orders())

        try:
            await (execute(self._one_statement) if self._side is None else self._side.run(execute))
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.warning("the order batches were not prepared ahead: %r", exc)

    def busy(self) -> bool:
        """Whether orders are being written, or a batch ended within `BUSY_AFTER_S` (the rooms'
        ticks give way meanwhile: `realtime.giving_way`)."""
        if self._writing is not None and not self._writing.done():
            return True
        return time.monotonic() - self._written_at < BUSY_AFTER_S

    async def write(
        self, order: OrderRow, claim: CouponClaimRow | None, *, generation: int
    ) -> None:
        """Write the order (with the next batch), or raise `ClientError` saying why not."""
        if claim is not None:
            await record(self._factory, order, claim, generation=generation)
            return
        pending = _Pending(order, generation)
        self._queue.append(pending)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._drain(), name="order-writer")
        await pending.done

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._write(batch)
        finally:
            self._written_at = time.monotonic()

    async def _write(self, batch: list[_Pending]) -> None:
        self.batches += 1
        try:
            await self._write_batch(batch)
        except (ClientError, _BatchRefused) as exc:
            if isinstance(exc, DatabaseUnavailable):
                # Refusals are the fallback's job; an outage is not, and a batch statement that
                # always fails would otherwise only show as every order written one by one.
                log.warning(
                    "a batch of %d orders failed, written one by one: %r", len(batch), exc.__cause__
                )
            await asyncio.gather(*(self._write_alone(pending) for pending in batch))
            return
        except Exception as exc:
            # A bug, not a refusal: each request fails with it (and it is logged there), and
            # the writer goes on with the next batch.
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            return
        except BaseException:
            for pending in batch:
                pending.done.cancel()
            raise
        for pending in batch:
            _settle(pending, None)

    async def _write_batch(self, batch: list[_Pending]) -> None:
        """Write the whole batch or nothing of it (`_BatchRefused`, or `ClientError`)."""
        units: dict[tuple[str, int, str | None], int] = defaultdict(int)
        for pending in batch:
            order = pending.order
            units[(order.product_id, pending.generation, order.sale_id)] += order.qty
        if self._one_statement is not None and len(units) == 1:
            await self._write_at_once(self._one_statement, batch)
        else:
            await self._write_in_transaction(batch, units)

    async def _write_at_once(self, engine: AsyncEngine, batch: list[_Pending]) -> None:
        """One statement, committed on its own: its conditions are those of the transaction's
        updates, and it writes every order of the batch or none (a ``conflict``, from the
        sale's cap or a duplicate key, leaves nothing either)."""
        orders = [pending.order for pending in batch]
        statement = (
            order_statements.WRITE_AT_ONCE
            if orders[0].sale_id is None
            else order_statements.WRITE_SALE_AT_ONCE
        )
        parameters = order_statements.at_once(orders, generation=batch[0].generation)

        async def execute(on: AsyncEngine) -> dict[str, str | None]:
            async with autocommit(on) as connection:
                result = await connection.execute(statement, parameters)
                return {row.id: row.upstream_guide_id for row in result}

        written = await (execute(engine) if self._side is None else self._side.run(execute))
        if len(written) != len(orders):
            raise _BatchRefused
        for order in orders:
            order.upstream_guide_id = written[order.id]

    async def _write_in_transaction(
        self, batch: list[_Pending], units: dict[tuple[str, int, str | None], int]
    ) -> None:
        """One transaction; nothing of it is written unless every conditional update holds.
        The terms (session live, the order's sale still the open one) are part of those
        updates, so a batch costs one statement per product and sale plus the inserts."""
        async with transaction(self._factory) as db:
            orders = [pending.order for pending in batch]
            await fill_upstream(db, orders)
            capped: dict[str, int] = defaultdict(int)
            for order in orders:
                if order.sale_id is not None:
                    capped[order.sale_id] += order.qty
            # Sorted, so that two nodes' batches lock the same rows in the same order.
            for (product_id, generation, sale_id), qty in sorted(
                units.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
            ):
                taken = await db.execute(
                    order_statements.TAKE_UNITS
                    if sale_id is None
                    else order_statements.TAKE_SALE_UNITS,
                    {
                        "product": product_id,
                        "generation": generation,
                        "units": qty,
                        "sale": sale_id,
                    },
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    raise _BatchRefused
            for sale_id, qty in sorted(capped.items()):
                taken = await db.execute(
                    order_statements.TAKE_CAPPED, {"sale": sale_id, "units": qty}
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    raise _BatchRefused
            await db.execute(
                order_statements.INSERT_ORDERS, [order_statements.row(order) for order in orders]
            )

    async def _write_alone(self, pending: _Pending) -> None:
        try:
            await record(self._factory, pending.order, None, generation=pending.generation)
        except ClientError as exc:
            _settle(pending, exc)
        else:
            _settle(pending, None)


def _settle(pending: _Pending, refusal: ClientError | None) -> None:
    # The request may have gone (client disconnected, its future cancelled); the order's
    # outcome then stays in the record for a retry of its key to find.
    if pending.done.done():
        return
    if refusal is None:
        pending.done.set_result(None)
    else:
        pending.done.set_exception(refusal)
