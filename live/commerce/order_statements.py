"""The statements that write orders to the record, each built once.

They are built against the tables rather than the mapped classes, and once: executing a
statement object again reuses its memoized cache key and compiled form, and a Core statement
skips the ORM's bulk update handling. Building and keying the statement per order, through the
ORM, was about half of a lone order's CPU (docs/benchmarks.md, "Order record").

Their parameters are named after no column of the tables they write (``:product``, ``:units``,
not ``:product_id``, ``:qty``): SQLAlchemy takes an execution parameter named after a column of
an UPDATE's table for a value to set, in a CTE too, and ``sales`` has a ``product_id``.
"""

from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Insert,
    String,
    Table,
    Update,
    bindparam,
    case,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import cast as cast_to
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlalchemy.types import TypeEngine

from live.commerce import order_records
from live.db.models import GuideRow, OrderRow, ProductRow, SaleRow, SessionRow
from live.sessions import session_records

_PRODUCTS = cast(Table, ProductRow.__table__)
_SALES = cast(Table, SaleRow.__table__)
_SESSIONS = cast(Table, SessionRow.__table__)
_ORDERS = cast(Table, OrderRow.__table__)
_GUIDES = cast(Table, GuideRow.__table__)


def _take_units(*, in_sale: bool) -> Update:
    """``committed_qty += :units`` on product ``:product`` if it stays within the stock, the
    product is on stock generation ``:generation``, its session is live, and its open sale is
    ``:sale`` (``in_sale``) or there is none."""
    products, sales_table = _PRODUCTS.c, _SALES.c
    open_sale = exists().where(
        sales_table.product_id == products.id, sales_table.status == order_records.SALE_OPEN
    )
    if in_sale:
        open_sale = open_sale.where(sales_table.id == bindparam("sale"))
    session_live = exists().where(
        _SESSIONS.c.id == products.session_id, _SESSIONS.c.status == session_records.LIVE
    )
    return (
        update(_PRODUCTS)
        .where(
            products.id == bindparam("product"),
            products.stock_generation == bindparam("generation"),
            products.committed_qty + bindparam("units") <= products.stock,
            session_live,
            open_sale if in_sale else ~open_sale,
        )
        .values(committed_qty=products.committed_qty + bindparam("units"))
    )


TAKE_UNITS = _take_units(in_sale=False)
TAKE_SALE_UNITS = _take_units(in_sale=True)
#: ``sold_qty += :units`` on sale ``:sale`` if it stays within the sale's cap.
TAKE_CAPPED = (
    update(_SALES)
    .where(
        _SALES.c.id == bindparam("sale"),
        _SALES.c.sold_qty + bindparam("units") <= _SALES.c.stock_cap,
    )
    .values(sold_qty=_SALES.c.sold_qty + bindparam("units"))
)
INSERT_ORDERS = insert(_ORDERS)


def _array_of(column_type: TypeEngine[Any]) -> ARRAY[Any]:
    # Strings without their length: an explicit cast to VARCHAR(n) truncates a longer value
    # silently, where the insert's assignment to the column refuses it, as the plain insert does.
    return ARRAY(String() if isinstance(column_type, String) else column_type)


def _write_at_once(*, in_sale: bool) -> Insert:
    """The orders of one product, stock generation and sale (or none) in one statement, which
    writes all of them or nothing and returns each written order's id and upstream guide.

    ``take`` is `_take_units` (`TAKE_UNITS`'s conditions); ``capped`` adds the batch's units
    to the sale's ``sold_qty`` without a condition: the CHECK ``ck_sales_sold_within_cap``
    fails the whole statement past the cap. A condition in the WHERE could only skip the
    sale's row, leaving the product's units taken and committed with no order; and a
    condition on the sale read inside ``take`` would read the statement's snapshot, stale
    once ``take`` waited for the product's row lock held by another node's batch (PostgreSQL
    re-reads only the locked row). ``capped`` finds the sale that ``take`` found open, as sales
    are never deleted.

    The orders come as one array per column (``orders_<key>``), so the statement is the same
    whatever the batch's size (prepared once per connection); each attributed order's upstream
    guide is read from ``guides`` in the same statement, as `order_writer.fill_upstream` would
    have it. PostgreSQL only (data-modifying CTEs)."""
    take = _take_units(in_sale=in_sale).returning(_PRODUCTS.c.id).cte("take")
    held: list[ColumnElement[bool]] = [exists(select(take.c.id))]
    ctes = [take]
    if in_sale:
        capped = (
            update(_SALES)
            .where(_SALES.c.id == bindparam("sale"), exists(select(take.c.id)))
            .values(sold_qty=_SALES.c.sold_qty + bindparam("units"))
            .returning(_SALES.c.id)
            .cte("capped")
        )
        ctes.append(capped)
        held.append(exists(select(capped.c.id)))
    columns = list(_ORDERS.columns)
    each = (
        func.unnest(*(cast_to(bindparam(f"orders_{c.key}"), _array_of(c.type)) for c in columns))
        .table_valued(*(c.key for c in columns))
        .render_derived(name="o")
    )
    upstream = case(
        (each.c.guide_id.is_(None), each.c.upstream_guide_id),
        else_=select(_GUIDES.c.upstream_guide_id)
        .where(_GUIDES.c.brand == each.c.brand, _GUIDES.c.id == each.c.guide_id)
        .scalar_subquery(),
    )
    rows = select(
        *(upstream if c.key == "upstream_guide_id" else each.c[c.key] for c in columns)
    ).where(*held)
    return (
        insert(_ORDERS)
        .from_select([c.key for c in columns], rows)
        .add_cte(*ctes)
        .returning(_ORDERS.c.id, _ORDERS.c.upstream_guide_id)
    )


WRITE_AT_ONCE = _write_at_once(in_sale=False)
WRITE_SALE_AT_ONCE = _write_at_once(in_sale=True)


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


def no_orders() -> dict[str, Any]:
    """Parameters of `WRITE_AT_ONCE` (or `WRITE_SALE_AT_ONCE`) for a batch of no orders, of no
    product and no sale: the statement runs, compiled and prepared, and changes nothing."""
    parameters: dict[str, Any] = {"product": "", "generation": 0, "sale": "", "units": 0}
    for column in _ORDERS.columns:
        parameters[f"orders_{column.key}"] = []
    return parameters


def at_once(orders: list[OrderRow], *, generation: int) -> dict[str, Any]:
    """The parameters of `WRITE_AT_ONCE` (or `WRITE_SALE_AT_ONCE`) for ``orders``, all of the
    first one's product and sale."""
    rows = [row(order) for order in orders]
    parameters: dict[str, Any] = {
        "product": orders[0].product_id,
        "generation": generation,
        "sale": orders[0].sale_id,
        "units": sum(order.qty for order in orders),
    }
    for column in _ORDERS.columns:
        parameters[f"orders_{column.key}"] = [values[column.key] for values in rows]
    return parameters
