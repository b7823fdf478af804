"""Waitlists: viewers queue for a sold-out product (or a flash sale's used-up cap) and get the
units that come back, in queue order (`live.commerce.offers`).

Contract: a viewer joins only when no unit is left for a new order (``in_stock`` otherwise),
while its per-viewer limit leaves room for one more unit (``limit_exceeded``), in at most
``LIVE_WAITLIST_MAX_PER_VIEWER`` waitlists of a session at once (``waitlist_limit_exceeded``);
joining again answers the same place. The entry is written to the record first (its id is its
place in the queue; the product's stock generation fences it against a rebuild running at
once), then put in the Redis queue. Leaving frees the place; leaving with an offer declines it
(the unit passes on). Hosts get the queue lengths live (``waitlist`` frames, at most one a
second while they change) and read them, guides read their own customers' places, viewers
their own places and offers (`read`).
"""

import logging
from typing import Any

from sqlalchemy import select

from common.errors import ClientError, Code
from inventory import keys as inventory_keys
from inventory.errors import InventoryUnavailable
from live.auth.tokens import Principal, Role
from live.commerce import holds, offers, order_records, waitlist_records
from live.commerce.terms import ProductTerms
from live.context import Context
from live.db.models import OrderRow, WaitlistEntryRow
from live.db.unit import transaction
from live.guides import attribution, workspace_feed
from live.platform.clock import now_ms
from live.sessions import session_records

log = logging.getLogger(__name__)


def _live(terms: ProductTerms) -> None:
    if terms.session_status == session_records.ENDED:
        raise ClientError(Code.SESSION_ENDED, "the session has ended")
    if terms.session_status != session_records.LIVE:
        raise ClientError(Code.SESSION_NOT_LIVE, f"the session is {terms.session_status}")


async def join(
    ctx: Context, principal: Principal, session_id: str, product_id: str
) -> dict[str, Any]:
    """Put the viewer in the product's queue (or answer the place it has)."""
    terms = await ctx.terms.get(principal.brand, session_id, product_id)
    _live(terms)
    async with transaction(ctx.db) as db:
        existing = await waitlist_records.active_entry(db, product_id, principal.sub)
    if existing is not None:
        return await _placed(ctx, existing)
    sale_id = terms.sale.sale_id if terms.sale else None
    available, _ = await ctx.waitlists.available(session_id, product_id, sale_id=sale_id)
    if available is None:
        raise ClientError(Code.SALE_PAUSED, "sales of this session are paused; retry shortly")
    if available >= 1:
        raise ClientError(Code.IN_STOCK, "the product is in stock: buy it")
    limit = terms.limit_per_viewer
    if terms.sale is not None:
        limit = terms.sale.per_viewer_limit or limit
    scope = inventory_keys.sale_field(sale_id) if sale_id else product_id
    generation, units = await ctx.stock.standing(session_id, product_id, f"{scope}|{principal.sub}")
    if limit is not None and units + 1 > limit:
        raise ClientError(Code.LIMIT_EXCEEDED, "you already have as many as one viewer may buy")
    binding = await attribution.lookup(ctx.redis, principal.brand, principal.sub)
    try:
        async with transaction(ctx.db) as db:
            await waitlist_records.fence(db, product_id, generation)
            entry = await waitlist_records.add(
                db,
                brand=principal.brand,
                session_id=session_id,
                product_id=product_id,
                viewer_id=principal.sub,
                guide_id=binding.guide_id if binding else None,
                max_per_viewer=ctx.settings.waitlist_max_per_viewer,
                now_ms=now_ms(),
            )
    except ClientError as exc:
        if exc.code != Code.CONFLICT:
            raise
        # A join of the same viewer at once: the one written answers both.
        async with transaction(ctx.db) as db:
            existing = await waitlist_records.active_entry(db, product_id, principal.sub)
        if existing is None:
            raise
        return await _placed(ctx, existing)
    answer = await _placed(ctx, entry)
    workspace_feed.tell_soon(
        ctx.bus,
        session_id,
        entry.guide_id,
        "waitlist",
        viewer_id=principal.sub,
        product_id=product_id,
        waiting=True,
    )
    offers.push_lengths_soon(ctx, session_id)
    # A unit may have come back between the check above and the entry: offer it now.
    offers.pump_soon(ctx, principal.brand, session_id, product_id)
    return answer


async def _placed(ctx: Context, entry: WaitlistEntryRow) -> dict[str, Any]:
    """The view of an entry; a waiting one is (back) in the Redis queue first, so a join
    retried after a failure in between repairs the queue."""
    if entry.status != waitlist_records.WAITING:
        return waitlist_records.entry_view(entry)
    try:
        await ctx.waitlists.add(entry.session_id, entry.product_id, entry.viewer_id, entry.id)
        standing = await ctx.waitlists.standing(entry.session_id, entry.product_id, entry.viewer_id)
    except InventoryUnavailable as exc:
        raise ClientError(Code.UNAVAILABLE, "waitlists are unavailable; retry") from exc
    return waitlist_records.entry_view(entry, ahead=standing.ahead)


async def leave(
    ctx: Context, principal: Principal, session_id: str, product_id: str
) -> dict[str, Any]:
    """Take the viewer out of the product's queue; with an offer held, decline it."""
    await ctx.terms.get(principal.brand, session_id, product_id)
    async with transaction(ctx.db) as db:
        entry = await waitlist_records.active_entry(db, product_id, principal.sub)
        if entry is None:
            raise ClientError(Code.NOT_FOUND, "you are not on this product's waitlist")
        if entry.status == waitlist_records.WAITING:
            await waitlist_records.end(
                db,
                entry.id,
                was=(waitlist_records.WAITING,),
                status=waitlist_records.LEFT,
                now_ms=now_ms(),
            )
    if entry.status == waitlist_records.OFFERED and entry.order_id is not None:
        await holds.settle(ctx, session_id, entry.order_id, status=order_records.CANCELLED)
        status = waitlist_records.PASSED
    else:
        status = waitlist_records.LEFT
        try:
            await ctx.waitlists.remove(session_id, product_id, principal.sub)
        except InventoryUnavailable as exc:
            # Left in the record: an offer reaching the place finds it left and passes it on.
            log.warning("waitlist place of %s left in Redis: %s", principal.sub, exc)
    offers.push_lengths_soon(ctx, session_id)
    workspace_feed.tell_soon(
        ctx.bus,
        session_id,
        entry.guide_id,
        "waitlist",
        viewer_id=principal.sub,
        product_id=product_id,
        waiting=False,
    )
    return {"session_id": session_id, "product_id": product_id, "status": status}


async def read(ctx: Context, principal: Principal, session_id: str) -> dict[str, Any]:
    """What the caller may see of the session's waitlists: lengths (host, admin), the guide's
    customers' places (guide), the viewer's own places and offers (viewer)."""
    async with transaction(ctx.db) as db:
        await session_records.load(db, principal.brand, session_id)
        if principal.role in (Role.HOST, Role.ADMIN):
            counted = await waitlist_records.counts(db, session_id)
            products = [p.id for p in await session_records.products_of(db, session_id)]
            return {
                "session_id": session_id,
                "products": [
                    {
                        "product_id": product_id,
                        "waiting": counted.get(product_id, {}).get(waitlist_records.WAITING, 0),
                        "offered": counted.get(product_id, {}).get(waitlist_records.OFFERED, 0),
                    }
                    for product_id in products
                ],
            }
        if principal.role == Role.GUIDE:
            rows = await waitlist_records.entries(db, session_id, guide_id=principal.sub)
        elif principal.role == Role.VIEWER:
            rows = await waitlist_records.entries(db, session_id, viewer_id=principal.sub)
        else:
            raise ClientError(Code.FORBIDDEN, "waitlists are for hosts, guides and viewers")
        offer_ids = [row.order_id for row in rows if row.order_id is not None]
        offered = {
            row.id: row
            for row in await db.scalars(
                select(OrderRow).where(
                    OrderRow.id.in_(offer_ids), OrderRow.status == order_records.OFFERED
                )
            )
        }
    items = []
    for row in rows:
        standing = await ctx.waitlists.standing(session_id, row.product_id, row.viewer_id)
        item = waitlist_records.entry_view(row, ahead=standing.ahead)
        offer = offered.get(row.order_id or "")
        if principal.role == Role.VIEWER and offer is not None:
            item["offer"] = offers.offer_frame(offer)
        items.append(item)
    return {"session_id": session_id, "items": items}
