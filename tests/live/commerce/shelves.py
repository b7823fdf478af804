"""A live product straight in the record, for the order writer's tests: no app, no Redis."""

import asyncio
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import ClientError, Code
from live.commerce import order_records
from live.commerce.order_writer import OrderWriter
from live.db.models import OrderRow, ProductRow, SaleRow
from live.db.unit import transaction
from loadtests.order_record import reserved_order, seed_live_product


@dataclass(frozen=True)
class Shelf:
    """A live session with one product of ``stock`` units on stock generation 0."""

    db: async_sessionmaker[AsyncSession]
    session_id: str
    product_id: str


async def new_shelf(db: async_sessionmaker[AsyncSession], *, stock: int) -> Shelf:
    """A new live session of brand ``b1`` with one product of ``stock`` units."""
    made = Shelf(db, f"s-{uuid.uuid4().hex[:12]}", f"p-{uuid.uuid4().hex[:12]}")
    await seed_live_product(db, session_id=made.session_id, product_id=made.product_id, stock=stock)
    return made


def new_order(shelf: Shelf, *, qty: int = 1, sale_id: str | None = None) -> OrderRow:
    """A reserved order of a new viewer for the shelf's product."""
    return reserved_order(shelf.session_id, shelf.product_id, qty=qty, sale_id=sale_id)


async def open_sale(shelf: Shelf, *, cap: int) -> str:
    """Open a flash sale of the shelf's product capped at ``cap`` units; its id."""
    sale_id = f"sale-{uuid.uuid4().hex[:12]}"
    async with transaction(shelf.db) as unit:
        unit.add(
            SaleRow(
                id=sale_id,
                session_id=shelf.session_id,
                product_id=shelf.product_id,
                brand="b1",
                sale_price_cents=50,
                starts_ms=0,
                ends_ms=10**15,
                stock_cap=cap,
                sold_qty=0,
                status=order_records.SALE_OPEN,
                created_ms=0,
            )
        )
    return sale_id


async def committed(shelf: Shelf) -> tuple[int, int]:
    """The product's ``committed_qty`` and the number of its orders in the record."""
    async with transaction(shelf.db) as unit:
        units = await unit.scalar(
            select(ProductRow.committed_qty).where(ProductRow.id == shelf.product_id)
        )
        orders = await unit.scalar(
            select(func.count()).where(OrderRow.product_id == shelf.product_id)
        )
    return int(units or 0), int(orders or 0)


async def sold(shelf: Shelf, sale_id: str) -> int:
    """The sale's ``sold_qty``."""
    async with transaction(shelf.db) as unit:
        return int(await unit.scalar(select(SaleRow.sold_qty).where(SaleRow.id == sale_id)) or 0)


async def write_all(
    writer: OrderWriter, orders: list[OrderRow], *, generation: int = 0
) -> list[Code | None]:
    """Write the orders at once (one batch); each one's refusal code, or None when written."""

    async def one(order: OrderRow) -> Code | None:
        try:
            await writer.write(order, None, generation=generation)
        except ClientError as exc:
            return exc.code
        return None

    return list(await asyncio.gather(*(one(order) for order in orders)))
