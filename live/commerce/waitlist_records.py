"""Waitlist entries as records: their statuses, joining within the per-viewer limit, offers and
takes written together with their orders, the queues as the record has them, and the JSON
shapes.

Nothing here takes the node's context: the use cases (`live.commerce.waitlists`,
`live.commerce.offers`) call these with their own database session.
"""

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import ClientError, Code
from live.commerce import order_records, order_writer
from live.db.models import OrderRow, ProductRow, WaitlistEntryRow

#: ``waiting`` -> ``offered`` -> ``taken`` | ``passed``; or ``left`` / ``skipped`` (see the
#: model). The first two are active: they hold the viewer's place and one of its slots.
WAITING, OFFERED, TAKEN, PASSED, LEFT, SKIPPED = (
    "waiting",
    "offered",
    "taken",
    "passed",
    "left",
    "skipped",
)
ACTIVE = (WAITING, OFFERED)
#: The idempotency key an offer's order carries until the viewer takes it with its own key.
OFFER_KEY_PREFIX = "waitlist:"


class EntryGone(Exception):
    """The entry an offer was made to is no longer waiting (the viewer left meanwhile)."""


async def active_entry(
    db: AsyncSession, product_id: str, viewer_id: str
) -> WaitlistEntryRow | None:
    """The viewer's waiting or offered entry for a product, if any."""
    row: WaitlistEntryRow | None = await db.scalar(
        select(WaitlistEntryRow).where(
            WaitlistEntryRow.product_id == product_id,
            WaitlistEntryRow.viewer_id == viewer_id,
            WaitlistEntryRow.active == 1,
        )
    )
    return row


async def fence(db: AsyncSession, product_id: str, generation: int) -> None:
    """Lock the product's row and check that its stock generation is still ``generation``.

    The rebuild after a Redis loss bumps the generation in the transaction that reads the
    record: an entry written first is in what the rebuild reads, one written after is refused
    here (``sale_paused``: join again), so no waiting entry is missing from the rebuilt queue.
    """
    locked = await db.execute(
        update(ProductRow)
        .where(ProductRow.id == product_id, ProductRow.stock_generation == generation)
        .values(stock_generation=ProductRow.stock_generation)
    )
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        raise ClientError(Code.SALE_PAUSED, "sales of this session are paused; retry shortly")


async def add(
    db: AsyncSession,
    *,
    brand: str,
    session_id: str,
    product_id: str,
    viewer_id: str,
    guide_id: str | None,
    max_per_viewer: int,
    now_ms: int,
) -> WaitlistEntryRow:
    """A new waiting entry in the viewer's lowest free slot; `ClientError`
    ``waitlist_limit_exceeded`` when every slot is taken. A concurrent join of the same viewer
    fails on a unique constraint (``conflict``) rather than pass the limit."""
    taken = set(
        await db.scalars(
            select(WaitlistEntryRow.slot).where(
                WaitlistEntryRow.session_id == session_id,
                WaitlistEntryRow.viewer_id == viewer_id,
                WaitlistEntryRow.active == 1,
            )
        )
    )
    free = [slot for slot in range(1, max_per_viewer + 1) if slot not in taken]
    if not free:
        raise ClientError(
            Code.WAITLIST_LIMIT_EXCEEDED,
            f"you already wait for {max_per_viewer} products of this session",
        )
    row = WaitlistEntryRow(
        brand=brand,
        session_id=session_id,
        product_id=product_id,
        viewer_id=viewer_id,
        guide_id=guide_id,
        status=WAITING,
        active=1,
        slot=free[0],
        joined_ms=now_ms,
        updated_ms=now_ms,
    )
    db.add(row)
    await db.flush()
    return row


async def end(
    db: AsyncSession, entry_id: int, *, was: tuple[str, ...], status: str, now_ms: int
) -> bool:
    """Move an entry from one of ``was`` to the final ``status`` (freeing its place and slot);
    False when it was in none of them."""
    changed = await db.execute(
        update(WaitlistEntryRow)
        .where(WaitlistEntryRow.id == entry_id, WaitlistEntryRow.status.in_(was))
        .values(status=status, active=None, slot=None, updated_ms=now_ms)
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


async def end_offer(db: AsyncSession, order_id: str, *, status: str, now_ms: int) -> None:
    """The entry whose offer is ``order_id`` is done: ``taken`` or ``passed``."""
    await db.execute(
        update(WaitlistEntryRow)
        .where(WaitlistEntryRow.order_id == order_id, WaitlistEntryRow.status == OFFERED)
        .values(status=status, active=None, slot=None, updated_ms=now_ms)
    )


async def record_offer(
    db: AsyncSession, order: OrderRow, *, position: int, generation: int, now_ms: int
) -> None:
    """Write an offer: its entry ``waiting`` -> ``offered`` and its order (status ``offered``)
    with the record's checks of any order (`order_writer.record_in`), in the caller's
    transaction. `EntryGone` when the entry is not waiting any more."""
    changed = await db.execute(
        update(WaitlistEntryRow)
        .where(
            WaitlistEntryRow.id == position,
            WaitlistEntryRow.product_id == order.product_id,
            WaitlistEntryRow.viewer_id == order.viewer_id,
            WaitlistEntryRow.status == WAITING,
        )
        .values(status=OFFERED, order_id=order.id, updated_ms=now_ms)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise EntryGone(position)
    await order_writer.record_in(db, order, None, generation=generation)


async def take(
    db: AsyncSession,
    order: OrderRow,
    *,
    idempotency_key: str,
    request_hash: str,
    expires_ms: int,
    now_ms: int,
) -> bool:
    """An offer taken by its viewer: ``offered`` -> ``reserved`` under the buyer's key, until
    ``expires_ms``; its entry ``taken``. False when the offer lapsed (or was taken) first."""
    changed = await db.execute(
        update(OrderRow)
        .where(
            OrderRow.id == order.id,
            OrderRow.status == order_records.OFFERED,
            OrderRow.expires_ms > now_ms,
        )
        .values(
            status=order_records.RESERVED,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            expires_ms=expires_ms,
            guide_id=order.guide_id,
            guide_store=order.guide_store,
            upstream_guide_id=order.upstream_guide_id,
            attributed_ms=order.attributed_ms,
            attribution_policy=order.attribution_policy,
            # Its ``order.reserved`` webhook goes out now, with the buyer's guide, not when
            # the unit was only offered (`live.webhooks.fan_out.reserved_orders`).
            webhook_pending=True,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await end_offer(db, order.id, status=TAKEN, now_ms=now_ms)
    return True


async def waiting_queues(db: AsyncSession, session_id: str) -> dict[str, dict[str, int]]:
    """Per product of the session, the waiting viewers and their positions (for a rebuild)."""
    rows = await db.execute(
        select(WaitlistEntryRow.product_id, WaitlistEntryRow.viewer_id, WaitlistEntryRow.id).where(
            WaitlistEntryRow.session_id == session_id, WaitlistEntryRow.status == WAITING
        )
    )
    queues: dict[str, dict[str, int]] = defaultdict(dict)
    for product_id, viewer_id, position in rows:
        queues[product_id][viewer_id] = position
    return dict(queues)


async def counts(db: AsyncSession, session_id: str) -> dict[str, dict[str, int]]:
    """Per product of the session, the entries waiting and offered now."""
    rows = await db.execute(
        select(WaitlistEntryRow.product_id, WaitlistEntryRow.status, func.count())
        .where(WaitlistEntryRow.session_id == session_id, WaitlistEntryRow.active == 1)
        .group_by(WaitlistEntryRow.product_id, WaitlistEntryRow.status)
    )
    found: dict[str, dict[str, int]] = defaultdict(lambda: {WAITING: 0, OFFERED: 0})
    for product_id, status, count in rows:
        found[product_id][status] = int(count)
    return dict(found)


async def entries(
    db: AsyncSession, session_id: str, *, viewer_id: str | None = None, guide_id: str | None = None
) -> list[WaitlistEntryRow]:
    """The session's active entries, in queue order: a viewer's own, or a guide's customers'."""
    query = select(WaitlistEntryRow).where(
        WaitlistEntryRow.session_id == session_id, WaitlistEntryRow.active == 1
    )
    if viewer_id is not None:
        query = query.where(WaitlistEntryRow.viewer_id == viewer_id)
    if guide_id is not None:
        query = query.where(WaitlistEntryRow.guide_id == guide_id)
    return list(await db.scalars(query.order_by(WaitlistEntryRow.id)))


def entry_view(row: WaitlistEntryRow, *, ahead: int | None = None) -> dict[str, Any]:
    """An entry as its viewer (or the viewer's guide) sees it; ``ahead`` counts the viewers
    before it in the queue while it waits."""
    return {
        "session_id": row.session_id,
        "product_id": row.product_id,
        "viewer_id": row.viewer_id,
        "position": row.id,
        "ahead": ahead if row.status == WAITING else None,
        "status": row.status,
        "offer_id": row.order_id if row.status == OFFERED else None,
        "guide_id": row.guide_id,
        "joined_at": row.joined_ms,
    }
