"""Session lifecycle: create, add products, start, pin, end. Each change is written to the
record first, then published on the session stream."""

from typing import Any

from sqlalchemy import Row, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.context import Context
from live.db.models import ProductRow, SessionRow
from live.db.unit import autocommit, transaction
from live.guides import workspace_feed
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions.session_records import (
    DRAFT,
    ENDED,
    LIVE,
    NOT_STARTED,
    SCHEDULED,
    load,
    product_view,
    since_start,
    t_ms,
)
from live.webhooks import events, outbox
from realtime import keys as realtime_keys
from replay.archiver import track as track_archive


async def create(
    ctx: Context,
    principal: Principal,
    title: str,
    *,
    starts_ms: int | None = None,
    cover_url: str | None = None,
) -> SessionRow:
    """A new session of the principal's brand: a draft, or ``scheduled`` when it is given a
    start time (viewers may reserve it from then on)."""
    row = SessionRow(
        id=ids.new_id("ses"),
        brand=principal.brand,
        title=title,
        status=DRAFT if starts_ms is None else SCHEDULED,
        host_id=principal.sub,
        created_ms=now_ms(),
        starts_ms=starts_ms,
        cover_url=cover_url,
    )
    async with transaction(ctx.db) as db:
        db.add(row)
        await _announce(db, row, events.SESSION_SCHEDULED)
    return row


async def _announce(db: AsyncSession, row: SessionRow, kind: str) -> None:
    """The session's webhook event, in the transaction of its change."""
    await outbox.add(db, row.brand, kind, events.session_data(row), now_ms=now_ms())


async def add_product(
    ctx: Context,
    principal: Principal,
    session_id: str,
    fields: dict[str, Any],
    *,
    variant_of: str | None = None,
) -> ProductRow:
    """Add a product with its stock; the stock is loaded into Redis at once. With
    ``variant_of`` (a product of the session) the new product joins that product's group of
    variants; a live room gets ``product`` and ``stock``."""
    async with transaction(ctx.db) as db:
        session = await load(db, principal.brand, session_id)
        if session.status == ENDED:
            raise ClientError(Code.SESSION_ENDED, "the session has ended")
        group_id = None
        if variant_of is not None:
            parent = await db.get(ProductRow, variant_of)
            if parent is None or parent.session_id != session_id:
                raise ClientError(Code.NOT_FOUND, f"no product {variant_of} in this session")
            # The group is named after its first product, which needs no change of its own to
            # join it: a client groups products by ``group_id or product_id``.
            parent.group_id = group_id = parent.group_id or parent.id
        row = ProductRow(
            id=ids.new_id("prd"),
            session_id=session_id,
            brand=principal.brand,
            committed_qty=0,
            stock_generation=0,
            created_ms=now_ms(),
            opening_price_cents=fields["price_cents"],
            group_id=group_id,
            **fields,
        )
        db.add(row)
        await db.flush()
        version = await ctx.stock.load(session_id, row.id, row.stock)
    if session.status == LIVE:
        ts = now_ms()
        clock = {"ts": ts, "t_ms": t_ms(session, ts)}
        await ctx.bus.publish(session_id, "product", {"product": product_view(row), **clock})
        await ctx.bus.publish(
            session_id,
            "stock",
            {"levels": {row.id: row.stock}, "version": version, **clock},
        )
    return row


async def change_price(
    ctx: Context, principal: Principal, session_id: str, product_id: str, price_cents: int
) -> ProductRow:
    """Set a product's price: orders from now on pay it, and viewers (and the archive's
    product script) get ``price``."""
    async with transaction(ctx.db) as db:
        session = await load(db, principal.brand, session_id)
        if session.status == ENDED:
            raise ClientError(Code.SESSION_ENDED, "the session has ended")
        product = await db.get(ProductRow, product_id)
        if product is None or product.session_id != session_id:
            raise ClientError(Code.NOT_FOUND, f"no product {product_id} in this session")
        product.price_cents = price_cents
    # Cached order terms on every node are refused from now on (see live/commerce/terms.py).
    await ctx.stock.change_terms(session_id)
    if session.status == LIVE:
        ts = now_ms()
        await ctx.bus.publish(
            session_id,
            "price",
            {
                "product_id": product_id,
                "price_cents": price_cents,
                "ts": ts,
                "t_ms": t_ms(session, ts),
            },
        )
    return product


async def edit(
    ctx: Context, principal: Principal, session_id: str, fields: dict[str, Any]
) -> SessionRow:
    """Change a session's ``title``, ``cover_url``, ``video_url`` or ``starts_ms`` (those
    given). A start time schedules a draft; it can move until the session goes live."""
    async with transaction(ctx.db) as db:
        row = await load(db, principal.brand, session_id)
        if "starts_ms" in fields:
            if row.status not in NOT_STARTED:
                raise ClientError(Code.CONFLICT, f"the session is {row.status}: it has started")
            row.status = SCHEDULED
        for name, value in fields.items():
            setattr(row, name, value)
    return row


async def start(ctx: Context, principal: Principal, session_id: str) -> SessionRow:
    """Go live: the clock of the session starts and viewers get ``started``."""
    ts = now_ms()
    async with transaction(ctx.db) as db:
        row = await load(db, principal.brand, session_id)
        if row.status == ENDED:
            raise ClientError(Code.SESSION_ENDED, "the session has ended")
        if row.status == LIVE:
            return row
        row.status = LIVE
        row.started_ms = ts
        await _announce(db, row, events.SESSION_STARTED)
    await ctx.stock.change_terms(session_id)
    await track_archive(ctx.redis, session_id)
    await ctx.redis.set(realtime_keys.clock(session_id), ts)
    await ctx.bus.publish(session_id, "started", {"ts": ts, "t_ms": 0})
    return row


async def end(ctx: Context, principal: Principal, session_id: str) -> SessionRow:
    """End the session: viewers get ``ended`` and the archive closes it."""
    ts = now_ms()
    async with transaction(ctx.db) as db:
        row = await load(db, principal.brand, session_id)
        if row.status == ENDED:
            return row
        if row.status in NOT_STARTED:
            raise ClientError(Code.SESSION_NOT_LIVE, "the session has not started")
        row.status = ENDED
        row.ended_ms = ts
        await _announce(db, row, events.SESSION_ENDED)
    await ctx.stock.change_terms(session_id)
    await ctx.bus.publish(session_id, "ended", {"ts": ts, "t_ms": t_ms(row, ts)})
    return row


async def pin(
    ctx: Context, principal: Principal, session_id: str, product_id: str | None
) -> str | None:
    """Pin a product (or unpin with None); viewers get ``pin`` / ``unpin``. Returns what is
    pinned now."""
    ts = now_ms()
    pinned = (
        None if product_id is None else await _pin_at_once(ctx, principal, session_id, product_id)
    )
    previous = None
    if pinned is not None:
        started_ms = pinned.started_ms
    else:
        # An unpin (its event names what was pinned), or a pin refused: the checks one by one
        # say why, or pin after all if the session changed meanwhile.
        async with transaction(ctx.db) as db:
            row = await load(db, principal.brand, session_id)
            if row.status != LIVE:
                raise ClientError(Code.SESSION_NOT_LIVE, "pins need a live session")
            if product_id is not None:
                product = await db.get(ProductRow, product_id)
                if product is None or product.session_id != session_id:
                    raise ClientError(Code.NOT_FOUND, f"no product {product_id} in this session")
            previous, row.pinned_product_id = row.pinned_product_id, product_id
        started_ms = row.started_ms
    fields = {"ts": ts, "t_ms": since_start(started_ms, ts)}
    # Guides' desks list what was pinned while each of their viewers watched.
    await workspace_feed.pinned(ctx.redis, ctx.bus, session_id, product_id, ts=ts)
    # Published last: this node's rooms start writing the pin to their viewers as soon as it
    # is on the bus, a slice of sockets at a time, and every await of this request after it
    # would wait for slices (with 10,000 viewers here, 60-70 ms for the desks' two).
    if product_id is None:
        await ctx.bus.publish(session_id, "unpin", {"product_id": previous, **fields})
    else:
        await ctx.bus.publish(session_id, "pin", {"product_id": product_id, **fields})
    return product_id


async def _pin_at_once(
    ctx: Context, principal: Principal, session_id: str, product_id: str
) -> Row[int | None] | None:
    """Pin ``product_id`` in one statement if the session is the caller's brand's, live, and
    has that product: the row of the session's ``started_ms`` then, else None (nothing
    written).

    A host pins during the storms of a session's start and of a node's restart, when each
    round trip to the record waits for a turn of the busy loop: on PostgreSQL this is the
    pool's ping and the statement, where a transaction of reads and an update is six."""
    statement = (
        update(SessionRow)
        .where(
            SessionRow.id == session_id,
            SessionRow.brand == principal.brand,
            SessionRow.status == LIVE,
            exists().where(ProductRow.id == product_id, ProductRow.session_id == session_id),
        )
        .values(pinned_product_id=product_id)
        .returning(SessionRow.started_ms)
    )
    async with autocommit(ctx.engine) as connection:
        return (await connection.execute(statement)).first()
