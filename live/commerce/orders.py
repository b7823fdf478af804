"""Placing orders: reserve in Redis (one Lua call), then write the order in the record.

Contract: stock is taken in Redis first (fast, atomic, per-viewer limit, idempotency key);
the order row is then written in one transaction together with a conditional update of the
product's ``committed_qty`` (the record's own refusal to oversell) and the attributed guide.
If that transaction fails the hold is released and the key forgotten, so a retry starts over.
"""

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from common import codec, loops
from common.errors import ClientError, Code
from inventory import keys as inventory_keys
from inventory.errors import InventoryUnavailable
from inventory.stock import Refusal, Refused, Repeated, Reserved
from live.auth.tokens import Principal
from live.commerce import coupons, flash_sales, order_records
from live.commerce.terms import ProductTerms, current_version
from live.context import Context
from live.db.models import CouponClaimRow, CouponRow, OrderRow
from live.db.unit import transaction
from live.guides import attribution, leaderboard, workspace_feed
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records
from realtime.bus import BusUnavailable

log = logging.getLogger(__name__)

#: The ``attribution_policy`` of an order credited through a guide's nudge coupon.
GUIDE_COUPON = "guide_coupon"
REPEAT_WAIT_S = 5.0
REPEAT_POLL_S = 0.05

_REFUSALS = {
    Refusal.SOLD_OUT: (Code.SOLD_OUT, "the product is sold out"),
    Refusal.LIMIT_EXCEEDED: (Code.LIMIT_EXCEEDED, "this exceeds the per-viewer limit"),
    Refusal.NOT_LOADED: (Code.SALE_PAUSED, "sales of this session are paused; retry shortly"),
    Refusal.STALE_TERMS: (Code.SALE_PAUSED, "the terms of this sale just changed; retry"),
}
#: Reserves tried on fresh terms when the cached ones turn out to have changed meanwhile.
STALE_TERMS_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated ``POST /orders`` body (or ``buy`` message) plus its idempotency key;
    ``offer_id`` takes a waitlist offer."""

    product_id: str
    qty: int
    coupon_id: str | None
    idempotency_key: str
    offer_id: str | None = None
    #: The client sends this key for the first time (a socket ``buy`` with ``first``): no
    #: answer can be recorded under it, so the node's sold-out gate may refuse it.
    first_send: bool = False

    def fingerprint(self) -> str:
        """Hash of the body: the same key must come with the same body."""
        fields: list[object] = [self.product_id, self.qty, self.coupon_id]
        if self.offer_id is not None:
            # Only then: the fingerprints of orders placed before offers existed stay valid.
            fields.append(self.offer_id)
        return hashlib.sha256(codec.encode(fields)).hexdigest()


def _refuse(reason: Refusal) -> ClientError:
    code, message = _REFUSALS[reason]
    return ClientError(code, message)


async def answer_again(
    ctx: Context, outcome: Repeated, request: OrderRequest, *, session_id: str, viewer_id: str
) -> dict[str, Any]:
    """The answer to a key used before: its order, or the refusal it got (see section 4 of
    docs/protocol.md)."""
    if outcome.request_hash != request.fingerprint():
        raise ClientError(
            Code.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used with another body"
        )
    if outcome.order_id is None:
        raise _refuse(outcome.reason or Refusal.SOLD_OUT)
    # The first request may still be writing its row: wait for it a little.
    deadline = asyncio.get_running_loop().time() + REPEAT_WAIT_S
    while True:
        row = await _order_row(ctx, outcome.order_id)
        if row is not None:
            return order_records.order_view(row)
        # No row and no hold: the first attempt died after its reserve, or a rebuild of the Redis
        # counters fenced it off (see `live.commerce.stock_recovery`); it will never write its row,
        # so a retry starts over. The row is read again after the hold so that an order recorded in
        # between is not missed.
        if await _held(ctx, session_id, outcome.order_id) is False:
            if (row := await _order_row(ctx, outcome.order_id)) is not None:
                return order_records.order_view(row)
            await ctx.stock.forget(
                session_id, viewer_id=viewer_id, idempotency_key=request.idempotency_key
            )
            raise ClientError(Code.REQUEST_IN_PROGRESS, "the first request was lost; retry")
        if asyncio.get_running_loop().time() > deadline:
            raise ClientError(Code.REQUEST_IN_PROGRESS, "the first request is still in progress")
        await asyncio.sleep(REPEAT_POLL_S)


async def _order_row(ctx: Context, order_id: str) -> OrderRow | None:
    async with transaction(ctx.db) as db:
        return await db.get(OrderRow, order_id)


async def _held(ctx: Context, session_id: str, order_id: str) -> bool | None:
    """Whether the order's hold is in Redis; None when Redis cannot say."""
    try:
        return await ctx.stock.is_held(session_id, order_id)
    except InventoryUnavailable:
        return None


@dataclass(frozen=True, slots=True)
class Priced:
    """What an order buys at: the product's terms (with the open sale), unit price, limit,
    and the coupon claim it uses with its discount."""

    terms: ProductTerms
    unit_price_cents: int
    limit_per_viewer: int | None
    claim: CouponClaimRow | None
    discount_cents: int
    #: The guide whose nudge coupon the order uses: the order is theirs.
    coupon_guide_id: str | None = None

    @property
    def sale_id(self) -> str | None:
        """The flash sale the order is placed in, if any."""
        return self.terms.sale.sale_id if self.terms.sale else None


async def _price(
    ctx: Context, terms: ProductTerms, viewer_id: str, request: OrderRequest
) -> Priced:
    """The price of an order: a flash sale's price and limit within its window."""
    unit, limit = terms.price_cents, terms.limit_per_viewer
    if terms.sale is not None:
        terms.sale.check_window(now_ms())
        unit, limit = terms.sale.sale_price_cents, terms.sale.per_viewer_limit or limit
    claim, discount, guide_id = None, 0, None
    if request.coupon_id is not None:
        async with transaction(ctx.db) as db:
            claim, discount = await coupons.discount_for(
                db,
                coupon_id=request.coupon_id,
                session_id=terms.session_id,
                viewer_id=viewer_id,
                subtotal_cents=unit * request.qty,
            )
            # The row `discount_for` just read, from the unit's identity map: no query.
            coupon = await db.get(CouponRow, request.coupon_id)
            guide_id = coupon.guide_id if coupon is not None else None
    return Priced(terms, unit, limit, claim, discount, guide_id)


async def place(
    ctx: Context, principal: Principal, session_id: str, request: OrderRequest
) -> dict[str, Any]:
    """Reserve and record an order; returns its view (the same one for a retried key).

    The terms come from the node's cache (`live.commerce.terms`), so a refused attempt of a flash
    crowd never touches SQL; a reserve that finds them changed is retried on fresh terms. A
    first attempt at a product Redis just refused as sold out is refused by the node's gate
    (`live.commerce.sold_out_gate`) without a reserve.
    """
    for _ in range(STALE_TERMS_ATTEMPTS):
        terms = await ctx.terms.get(principal.brand, session_id, request.product_id)
        if terms.session_status != session_records.LIVE:
            if await _terms_changed(ctx, terms):
                ctx.terms.forget(session_id)
                continue
            return await _not_live(ctx, principal, terms, request)
        priced = await _price(ctx, terms, principal.sub, request)
        if request.first_send and ctx.sold_out.refuses(
            session_id, request.product_id, terms_version=terms.version, qty=request.qty
        ):
            raise _refuse(Refusal.SOLD_OUT)
        order_id = ids.new_id("ord")
        created = now_ms()
        expires = created + ctx.settings.hold_ttl_s * 1000
        asked = time.monotonic()
        # The binding goes out in the reserve's round trip: a winner's order needs it next,
        # and a read of its own after the reserve was one more wait for the busy loop in each
        # winner's latency (in a flash sale up to 88 ms; docs/benchmarks.md). A refused
        # attempt's read is simply dropped.
        binding = attribution.ask(ctx.redis, principal.brand, principal.sub)
        outcome = await ctx.stock.reserve(
            session_id,
            product_id=request.product_id,
            viewer_id=principal.sub,
            qty=request.qty,
            limit_per_viewer=priced.limit_per_viewer,
            order_id=order_id,
            expires_ms=expires,
            idempotency_key=request.idempotency_key,
            request_hash=request.fingerprint(),
            sale_id=priced.sale_id,
            terms_version=terms.version,
        )
        if isinstance(outcome, Refused) and outcome.reason == Refusal.STALE_TERMS:
            ctx.terms.forget(session_id)
            continue
        if isinstance(outcome, Repeated):
            return await answer_again(
                ctx, outcome, request, session_id=session_id, viewer_id=principal.sub
            )
        if isinstance(outcome, Refused):
            if outcome.reason == Refusal.SOLD_OUT:
                ctx.sold_out.arm(
                    session_id,
                    request.product_id,
                    terms_version=terms.version,
                    qty=request.qty,
                    asked=asked,
                    version=outcome.version,
                )
            raise _refuse(outcome.reason)
        order = _order(principal, priced, request, order_id, created=created, expires=expires)
        return await _write(ctx, principal, priced, order, outcome, binding=binding)
    raise _refuse(Refusal.STALE_TERMS)


async def _terms_changed(ctx: Context, terms: ProductTerms) -> bool:
    try:
        return await current_version(ctx.redis, terms.session_id) != terms.version
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "sales are unavailable; retry") from exc


async def _not_live(
    ctx: Context, principal: Principal, terms: ProductTerms, request: OrderRequest
) -> dict[str, Any]:
    """A session not live sells nothing; a retry of a request that got through while it was
    live still gets its answer."""
    earlier = await ctx.stock.recorded(
        terms.session_id, viewer_id=principal.sub, idempotency_key=request.idempotency_key
    )
    if earlier is not None:
        return await answer_again(
            ctx, earlier, request, session_id=terms.session_id, viewer_id=principal.sub
        )
    ended = terms.session_status == session_records.ENDED
    code = Code.SESSION_ENDED if ended else Code.SESSION_NOT_LIVE
    raise ClientError(code, f"the session is {terms.session_status}")


async def _attribute(
    order: OrderRow, *, coupon_guide_id: str | None, asked: asyncio.Future[Any]
) -> None:
    """Copy the viewer's binding (guide, store, touch time, policy; read by ``asked``) onto the
    order; an order paid with a guide's nudge coupon is that guide's (`GUIDE_COUPON`)."""
    binding = await attribution.binding_of(asked)
    if binding is not None:
        order.guide_id, order.guide_store = binding.guide_id, binding.store
        order.attributed_ms, order.attribution_policy = binding.touch_ms, binding.policy
    if coupon_guide_id is not None and coupon_guide_id != order.guide_id:
        order.guide_id, order.guide_store = coupon_guide_id, None
        order.attributed_ms, order.attribution_policy = order.created_ms, GUIDE_COUPON


def _order(
    principal: Principal,
    priced: Priced,
    request: OrderRequest,
    order_id: str,
    *,
    created: int,
    expires: int,
) -> OrderRow:
    subtotal = priced.unit_price_cents * request.qty
    return OrderRow(
        id=order_id,
        brand=principal.brand,
        session_id=priced.terms.session_id,
        product_id=request.product_id,
        viewer_id=principal.sub,
        qty=request.qty,
        unit_price_cents=priced.unit_price_cents,
        discount_cents=priced.discount_cents,
        amount_cents=subtotal - priced.discount_cents,
        coupon_id=request.coupon_id,
        status=order_records.RESERVED,
        idempotency_key=request.idempotency_key,
        request_hash=request.fingerprint(),
        created_ms=created,
        expires_ms=expires,
        sale_id=priced.sale_id,
    )


async def _write(
    ctx: Context,
    principal: Principal,
    priced: Priced,
    order: OrderRow,
    outcome: Reserved,
    *,
    binding: asyncio.Future[Any],
) -> dict[str, Any]:
    """Record a reserved order and announce it; on failure give the hold and the key back."""
    try:
        await _attribute(order, coupon_guide_id=priced.coupon_guide_id, asked=binding)
        await ctx.writer.write(order, priced.claim, generation=outcome.generation)
    except ClientError:
        # The hold may already be gone (a rebuild dropped it), so the key is forgotten on its
        # own as well: a retry must start over, not repeat an order that was never recorded.
        with contextlib.suppress(InventoryUnavailable):
            await ctx.stock.release(order.session_id, order.id)
            await ctx.stock.forget(
                order.session_id, viewer_id=principal.sub, idempotency_key=order.idempotency_key
            )
        raise
    # The buyer's answer does not wait for the ticker: announcing is best effort anyway, and
    # in a flash sale its round trips would sit in every winner's latency.
    loops.spawn(_announce(ctx, priced.terms, order, outcome, principal))
    return order_records.order_view(order)


async def _announce(
    ctx: Context,
    terms: ProductTerms,
    order: OrderRow,
    outcome: Reserved,
    principal: Principal,
) -> None:
    ts = now_ms()
    clock = {"ts": ts, "t_ms": terms.t_ms(ts)}
    if order.guide_id is not None:
        await workspace_feed.tell(
            ctx.bus,
            order.session_id,
            order.guide_id,
            "hold",
            viewer_id=order.viewer_id,
            order_id=order.id,
            product_id=order.product_id,
            qty=order.qty,
            status=order.status,
            expires_ms=order.expires_ms,
        )
        await leaderboard.count_order(
            ctx.redis, ctx.bus, order.session_id, order.guide_id, order.amount_cents
        )
        # Lock extension: the bound guide keeps a customer who orders (when the policy says).
        with contextlib.suppress(ClientError):
            policy = await ctx.attribution.get(order.brand)
            await attribution.extend(
                ctx.redis, order.brand, order.viewer_id, order.guide_id, policy, now_ms=ts
            )
    user = principal.name or principal.sub
    levels = {order.product_id: outcome.stock_left}
    if order.sale_id is not None and outcome.cap_left is not None:
        # The sale's units left, for the countdowns' "x% claimed" (archived, never folded).
        levels[inventory_keys.sale_field(order.sale_id)] = outcome.cap_left
    events: list[tuple[str, dict[str, Any]]] = [
        ("purchase", {"product_id": order.product_id, "user": user, "qty": order.qty, **clock}),
        ("stock", {"levels": levels, "version": outcome.version, **clock}),
    ]
    if outcome.stock_left == 0:
        # Only the reserve that took the last unit sees 0, so the event is sent once per
        # sell-out (again only if stock came back and sold out again).
        events.append(("sold_out", {"product_id": order.product_id, **clock}))
    try:
        await ctx.bus.publish_many(order.session_id, events)
    except BusUnavailable as exc:
        # The order is recorded; the ticker is best effort and the next stock event corrects
        # the levels viewers see.
        log.warning("order %s recorded but not announced: %s", order.id, exc)
    if order.sale_id is not None and outcome.cap_left == 0:
        # The last unit of the sale: it closes once every order of its cap is recorded (now,
        # or at the sale closer's next pass).
        with contextlib.suppress(ClientError):
            await flash_sales.close_if_sold_out(ctx, order.sale_id)
