"""Waitlist offers: a unit that comes back goes to the first viewer waiting for it, held for
that viewer for ``LIVE_OFFER_TTL_S``; the viewer takes it with a buy naming the offer, or it
passes to the next.

Contract: `pump` makes offers of a product while units are available and viewers wait: one
unit per offer, in queue order (each offer is one Lua call, `inventory.waitlists`), each
written with its entry and its order (status ``offered``, the product's terms of the moment)
in one transaction. The record refuses an offer whose viewer left meanwhile or whose counters a
rebuild replaced; its unit then goes back (the viewer back to its place first, if it still
waits). Units come back through `live.commerce.holds` (expiry, cancel, a lapsed offer) and
`live.commerce.restocks` (a refund before shipping, stock the host added), which pump the
product, and every `SWEEP_INTERVAL_S` each node pumps every waitlisted product anyway, so a
pump lost in a crash is made up. The offered viewer's sockets, on any node, get a private
``offer`` frame. `take` turns an offer into a reserved order: the record first (``offered`` ->
``reserved``, only before the offer's expiry: the reaper's expiry and a take exclude each
other there), then Redis (the hold's new expiry, the buyer's key).
"""

import asyncio
import contextlib
import logging
from typing import Any

from redis.exceptions import RedisError

from common import loops
from common.errors import OUTAGES, ClientError, Code
from inventory import keys as inventory_keys
from inventory.errors import InventoryUnavailable
from inventory.waitlists import NoOffer, Offered, Skipped
from live.auth.tokens import Principal
from live.commerce import order_records, order_writer, orders, waitlist_records
from live.commerce.terms import ProductTerms
from live.context import Context
from live.db.models import OrderRow, SessionRow
from live.db.unit import transaction
from live.guides import attribution, leaderboard, workspace_feed
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records
from realtime.bus import BusUnavailable

log = logging.getLogger(__name__)

#: Offers one pump makes at most before it lets the event loop serve others.
OFFERS_PER_PUMP = 100
#: Pumps of every waitlisted product, on each node, however units came back.
SWEEP_INTERVAL_S = 1.0
STALE_TERMS_ATTEMPTS = 3
#: Host panels get the queue lengths at most this often.
PUSH_EVERY_MS = 1_000
#: What a background pump logs and leaves to the sweep.
_RETRIED: tuple[type[Exception], ...] = (*OUTAGES, ClientError)


def _priced(terms: ProductTerms, now: int) -> tuple[int, int | None, str | None] | None:
    """Unit price, per-viewer limit and sale of an offer made now; None outside a sale's
    window (orders of the product are refused then, offers wait too)."""
    if terms.sale is None:
        return terms.price_cents, terms.limit_per_viewer, None
    if not terms.sale.starts_ms <= now < terms.sale.ends_ms:
        return None
    sale = terms.sale
    return sale.sale_price_cents, sale.per_viewer_limit or terms.limit_per_viewer, sale.sale_id


async def pump(ctx: Context, brand: str, session_id: str, product_id: str) -> int:
    """Offer the product's available units to its waiting viewers; returns the offers made."""
    made, stale, moved = 0, 0, False
    for _ in range(OFFERS_PER_PUMP):
        outcome = await _offer_one(ctx, brand, session_id, product_id)
        if outcome is NoOffer.STALE_TERMS:
            ctx.terms.forget(session_id)
            stale += 1
            if stale < STALE_TERMS_ATTEMPTS:
                continue
        if isinstance(outcome, NoOffer) or outcome is None:
            break
        made += outcome
        moved = True
    if moved:
        push_lengths_soon(ctx, session_id)
    return made


def pump_soon(ctx: Context, brand: str, session_id: str, product_id: str) -> None:
    """`pump` in the background (after a unit came back); the sweep retries what fails."""

    async def pumping() -> None:
        try:
            await pump(ctx, brand, session_id, product_id)
        except _RETRIED as exc:
            log.warning("waitlist of %s not pumped yet: %s", product_id, exc)

    loops.spawn(pumping())


async def _offer_one(
    ctx: Context, brand: str, session_id: str, product_id: str
) -> int | NoOffer | None:
    """One offer: 1 made, 0 none but go on (a viewer skipped or gone), a `NoOffer` or None
    to stop."""
    terms = await ctx.terms.get(brand, session_id, product_id)
    now = now_ms()
    priced = _priced(terms, now) if terms.session_status == session_records.LIVE else None
    if priced is None:
        return None
    unit_price, limit, sale_id = priced
    order_id = ids.new_id("ord")
    expires = now + ctx.settings.offer_ttl_s * 1000
    outcome = await ctx.waitlists.offer(
        session_id,
        product_id,
        order_id=order_id,
        expires_ms=expires,
        limit_per_viewer=limit,
        sale_id=sale_id,
        terms_version=terms.version,
    )
    if isinstance(outcome, NoOffer):
        return outcome
    if isinstance(outcome, Skipped):
        async with transaction(ctx.db) as db:
            await waitlist_records.end(
                db,
                outcome.position,
                was=(waitlist_records.WAITING,),
                status=waitlist_records.SKIPPED,
                now_ms=now,
            )
        return 0
    order = OrderRow(
        id=order_id,
        brand=terms.brand,
        session_id=session_id,
        product_id=product_id,
        viewer_id=outcome.viewer_id,
        qty=1,
        unit_price_cents=unit_price,
        discount_cents=0,
        amount_cents=unit_price,
        status=order_records.OFFERED,
        # No ``order.reserved`` webhook for a unit only offered: taking it asks for one.
        webhook_pending=False,
        idempotency_key=f"{waitlist_records.OFFER_KEY_PREFIX}{outcome.position}",
        request_hash="",
        created_ms=now,
        expires_ms=expires,
        sale_id=sale_id,
    )
    return await _record(ctx, terms, order, outcome)


async def _record(
    ctx: Context, terms: ProductTerms, order: OrderRow, outcome: Offered
) -> int | None:
    """Write an offer Redis made; on refusal give its unit back."""
    try:
        async with transaction(ctx.db) as db:
            await waitlist_records.record_offer(
                db, order, position=outcome.position, generation=outcome.generation, now_ms=now_ms()
            )
    except waitlist_records.EntryGone:
        await ctx.stock.release(order.session_id, order.id)
        return 0
    except ClientError as exc:
        log.warning(
            "offer of %s to %s refused by the record: %s", order.product_id, order.viewer_id, exc
        )
        # Back to its place before the unit is back: no other viewer can get the unit first.
        await ctx.waitlists.add(
            order.session_id, order.product_id, order.viewer_id, outcome.position
        )
        await ctx.stock.release(order.session_id, order.id)
        return None
    await _announce_offer(ctx, terms, order, outcome)
    return 1


def offer_frame(order: OrderRow) -> dict[str, Any]:
    """The private ``offer`` frame of an offer."""
    return {
        "type": "offer",
        "offer_id": order.id,
        "session_id": order.session_id,
        "product_id": order.product_id,
        "qty": order.qty,
        "unit_price_cents": order.unit_price_cents,
        "amount_cents": order.amount_cents,
        "sale_id": order.sale_id,
        "expires_at": order.expires_ms,
        "ts": order.created_ms,
    }


async def _announce_offer(
    ctx: Context, terms: ProductTerms, order: OrderRow, outcome: Offered
) -> None:
    ts = now_ms()
    try:
        await ctx.bus.send_control(
            order.session_id,
            {"kind": "private", "user_id": order.viewer_id, "frame": offer_frame(order)},
        )
        await ctx.bus.publish(
            order.session_id,
            "stock",
            {
                "levels": {order.product_id: outcome.stock_left},
                "version": outcome.version,
                "ts": ts,
                "t_ms": terms.t_ms(ts),
            },
        )
    except BusUnavailable as exc:
        # The offer stands (the viewer reads it with GET .../waitlist); frames are best effort.
        log.warning("offer %s made but not announced: %s", order.id, exc)


async def purchase(
    ctx: Context, principal: Principal, session_id: str, request: orders.OrderRequest
) -> dict[str, Any]:
    """A buy, over HTTP or the socket: an offer taken when the request names one, else a new
    order (`orders.place`)."""
    if request.offer_id is not None:
        return await take(ctx, principal, session_id, request)
    return await orders.place(ctx, principal, session_id, request)


async def take(
    ctx: Context, principal: Principal, session_id: str, request: orders.OrderRequest
) -> dict[str, Any]:
    """Take the offer ``request.offer_id``: the order, reserved under the buyer's key (the same
    order again for a retried key)."""
    assert request.offer_id is not None
    if request.qty != 1 or request.coupon_id is not None:
        raise ClientError(Code.INVALID_REQUEST, "an offer is one unit, taken without a coupon")
    earlier = await ctx.stock.recorded(
        session_id, viewer_id=principal.sub, idempotency_key=request.idempotency_key
    )
    if earlier is not None:
        return await orders.answer_again(
            ctx, earlier, request, session_id=session_id, viewer_id=principal.sub
        )
    binding = await attribution.lookup(ctx.redis, principal.brand, principal.sub)
    now = now_ms()
    expires = now + ctx.settings.hold_ttl_s * 1000
    async with transaction(ctx.db) as db:
        order = await db.get(OrderRow, request.offer_id)
        if order is None or (order.brand, order.session_id, order.viewer_id, order.product_id) != (
            principal.brand,
            session_id,
            principal.sub,
            request.product_id,
        ):
            raise ClientError(Code.NOT_FOUND, "no such offer for you")
        db.expunge(order)
        if order.status != order_records.OFFERED:
            if order.idempotency_key == request.idempotency_key:
                return order_records.order_view(order)  # taken by this key; Redis missed it
            raise ClientError(Code.OFFER_EXPIRED, f"the offer is {order.status}")
        session = await db.get(SessionRow, session_id)
        if session is None or session.status != session_records.LIVE:
            raise ClientError(Code.SESSION_ENDED, "the session is not live")
        if binding is not None:
            order.guide_id, order.guide_store = binding.guide_id, binding.store
            order.attributed_ms, order.attribution_policy = binding.touch_ms, binding.policy
        await order_writer.fill_upstream(db, [order])
        taken = await waitlist_records.take(
            db,
            order,
            idempotency_key=request.idempotency_key,
            request_hash=request.fingerprint(),
            expires_ms=expires,
            now_ms=now,
        )
        if not taken:
            raise ClientError(
                Code.OFFER_EXPIRED, "the offer lapsed; the unit went to the next viewer"
            )
    order.status, order.expires_ms = order_records.RESERVED, expires
    order.idempotency_key, order.request_hash = request.idempotency_key, request.fingerprint()
    try:
        await ctx.waitlists.take(
            session_id,
            order.id,
            viewer_id=principal.sub,
            idempotency_key=request.idempotency_key,
            recorded=f"ok|{order.id}|{order.request_hash}",
            idempotency_ttl_s=ctx.settings.idempotency_ttl_s,
            expires_ms=expires,
        )
    except InventoryUnavailable as exc:
        # The record says reserved: the reaper moves the hold's expiry when it meets the old
        # one, and a retry of the key finds the order in the record.
        log.warning("offer %s taken but its hold not extended yet: %s", order.id, exc)
    loops.spawn(_announce_take(ctx, principal, session, order))
    return order_records.order_view(order)


async def _announce_take(
    ctx: Context, principal: Principal, session: SessionRow, order: OrderRow
) -> None:
    ts = now_ms()
    if order.guide_id is not None:
        await leaderboard.count_order(
            ctx.redis, ctx.bus, order.session_id, order.guide_id, order.amount_cents
        )
        # The guide's desk: the wait is over, the unit is held for payment.
        for op, extra in (
            ("waitlist", {"product_id": order.product_id, "waiting": False}),
            (
                "hold",
                {
                    "order_id": order.id,
                    "product_id": order.product_id,
                    "qty": order.qty,
                    "status": order.status,
                    "expires_ms": order.expires_ms,
                },
            ),
        ):
            await workspace_feed.tell(
                ctx.bus, order.session_id, order.guide_id, op, viewer_id=order.viewer_id, **extra
            )
    fields = {
        "product_id": order.product_id,
        "user": principal.name or principal.sub,
        "qty": order.qty,
        "ts": ts,
        "t_ms": session_records.t_ms(session, ts),
    }
    with contextlib.suppress(BusUnavailable):
        await ctx.bus.publish(order.session_id, "purchase", fields)


async def sweep(ctx: Context) -> int:
    """One pass: pump every waitlisted product that has both waiting viewers and units."""
    made = 0
    for session_id in await ctx.waitlists.sessions():
        products = await ctx.waitlists.products(session_id)
        waiting = await ctx.waitlists.lengths(session_id, products)
        levels = await ctx.stock.levels(session_id)
        due = [p for p in products if waiting.get(p, 0) > 0 and levels.get(p, 0) > 0]
        if not due:
            continue
        async with transaction(ctx.db) as db:
            session = await db.get(SessionRow, session_id)
        if session is None or session.status == session_records.ENDED:
            await ctx.waitlists.forget_session(session_id)
            continue
        for product_id in due:
            made += await pump(ctx, session.brand, session_id, product_id)
    return made


async def run(ctx: Context) -> None:
    """Sweep until the app stops; an engine outage only delays the next pass."""
    await loops.forever(
        lambda: sweep(ctx),
        every_s=SWEEP_INTERVAL_S,
        doing="waitlist offers",
        log=log,
        stopping=ctx.stopping,
    )


def push_lengths_soon(ctx: Context, session_id: str) -> None:
    """Ask for a ``waitlist`` frame to the session's hosts: the first ask of a second (on any
    node) sends one a second later with the lengths of then, so a burst of joins is one frame."""
    loops.spawn(_push_later(ctx, session_id))


async def _push_later(ctx: Context, session_id: str) -> None:
    try:
        first = await ctx.redis.set(
            inventory_keys.waitlist_pushed(session_id), 1, nx=True, px=PUSH_EVERY_MS
        )
        if not first:
            return
        await asyncio.sleep(PUSH_EVERY_MS / 1000)
        products = await ctx.waitlists.products(session_id)
        lengths = await ctx.waitlists.lengths(session_id, products)
        frame = {"type": "waitlist", "lengths": lengths}
        await ctx.bus.send_control(session_id, {"kind": "hosts", "frame": frame})
    except (RedisError, InventoryUnavailable, BusUnavailable) as exc:
        log.warning("waitlist lengths of %s not pushed: %s", session_id, exc)
