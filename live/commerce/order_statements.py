"""The statements that write orders to the record, each built once.

They are built against the tables rather than the mapped classes, and once: executing a
statement object again reuses its memoized cache key and compiled form, and a Core statement
skips the ORM's bulk update handling. Building and keying the statement per order, through the
ORM, was about half of a lone order's CPU (docs/benchmarks.md, "Order record").
"""

from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, exists, insert, update
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from live.commerce import order_records
from live.db.models import OrderRow, ProductRow, SaleRow, SessionRow
from live.sessions import session_records

_PRODUCTS = cast(Table, ProductRow.__table__)
_SALES = cast(Table, SaleRow.__table__)
_SESSIONS = cast(Table, SessionRow.__table__)
_ORDERS = cast(Table, OrderRow.__table__)


def _take_units(*, in_sale: bool) -> Update:
    """``committed_qty += :qty`` on product ``:product_id`` if it stays within the stock, the
    product is on stock generation ``:generation``, its session is live, and its open sale is
    ``:sale_id`` (``in_sale``) or there is none."""
    products, sales_table = _PRODUCTS.c, _SALES.c
    open_sale = exists().where(
        sales_table.product_id == products.id, sales_table.status == order_records.SALE_OPEN
    )
    if in_sale:
        open_sale = open_sale.where(sales_table.id == bindparam("sale_id"))
    session_live = exists().where(
        _SESSIONS.c.id == products.session_id, _SESSIONS.c.status == session_records.LIVE
    )
    return (
        update(_PRODUCTS)
        .where(
            products.id == bindparam("product_id"),
            products.stock_generation == bindparam("generation"),
            products.committed_qty + bindparam("qty") <= products.stock,
            session_live,
            open_sale if in_sale else ~open_sale,
        )
        .values(committed_qty=products.committed_qty + bindparam("qty"))
    )


TAKE_UNITS = _take_units(in_sale=False)
TAKE_SALE_UNITS = _take_units(in_sale=True)
#: ``sold_qty += :qty`` on sale ``:sale_id`` if it stays within the sale's cap.
TAKE_CAPPED = (
    update(_SALES)
    .where(
        _SALES.c.id == bindparam("sale_id"),
        _SALES.c.sold_qty + bindparam("qty") <= _SALES.c.stock_cap,
    )
    .values(sold_qty=_SALES.c.sold_qty + bindparam("qty"))
)
INSERT_ORDERS = insert(_ORDERS)


def row(order: OrderRow) -> dict[str, Any]:
    """The order's column values, as the insert takes them: an unset column gets its scalar
    default, as the ORM would give it."""
    values: dict[str, Any] = {}
    for column in _ORDERS.columns:
        value = getattr(order, column.key)
        if value is None and isinstance(column.default, ScalarElementColumnDefault):
            value = column.default.arg
        values[column.key] = value
    return values
