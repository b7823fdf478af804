"""Buying from a clip after its session ended: the record is the judge of the stock.

Once a session has ended its Redis counters may be gone (expired, flushed, never rebuilt for an
ended session), so a clip order does not reserve in Redis. "While the product has stock" means
what the record says: the allocation (``products.stock``) minus the units held or sold
(``committed_qty``, which live holds that lapse give back to). One transaction takes the units
with the same conditional update the live path ends with (``committed_qty + qty <= stock``),
checks the viewer's limit over their held and paid orders of the product, and writes the order
with the guide the viewer is bound to (`live.guides.attribution`; a share code sent with the order
touches its guide first, as opening the clip through it does). The product row's lock orders
concurrent buyers, so no interleaving sells more than the allocation.

The order is ``reserved`` like a live one and holds its units for ``LIVE_HOLD_TTL_S``: payment
(`live.commerce.payments`), cancel (`live.commerce.holds`) and expiry (`sweep`, here) settle
it in the record.
Idempotency is the record's unique (session, viewer, key): a retried key answers the order.
"""

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common import codec, loops
from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.clips import library
from live.commerce import order_records
from live.commerce.order_records import COMMITTED, EXPIRED, RESERVED, return_units
from live.context import Context
from live.db.models import ClipRow, GuideRow, OrderRow, ProductRow, SessionRow
from live.db.unit import transaction
from live.guides import arrivals, attribution
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records
from live.webhooks import events, outbox

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0
SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class ClipOrderRequest:
    """A validated ``POST .../clips/{clip_id}/orders`` body plus its idempotency key."""

    qty: int
    idempotency_key: str
    share: str | None = None

    def fingerprint(self, clip_id: str) -> str:
        """Hash of what is bought: the same key must come with the same body."""
        return hashlib.sha256(codec.encode(["clip", clip_id, self.qty])).hexdigest()


async def place(
    ctx: Context, principal: Principal, session_id: str, clip_id: str, request: ClipOrderRequest
) -> dict[str, Any]:
    """Record a reserved order of the clip's product; the same answer for a retried key."""
    session, clip = await sellable_clip(ctx, principal, session_id, clip_id)
    if request.share:
        await arrivals.from_share(ctx, principal, session_id, request.share, clip_id=clip_id)
    fingerprint = request.fingerprint(clip_id)
    earlier = await _earlier(ctx, session_id, principal.sub, request.idempotency_key)
    if earlier is not None:
        return _repeated(earlier, fingerprint)
    order = await _order(ctx, principal, session, clip, request, fingerprint)
    try:
        await _record(ctx, order)
    except ClientError as exc:
        if exc.code != Code.CONFLICT:
            raise
        # The same key raced in another request: answer what that one recorded.
        earlier = await _earlier(ctx, session_id, principal.sub, request.idempotency_key)
        if earlier is None:
            raise
        return _repeated(earlier, fingerprint)
    if order.guide_id is not None:
        loops.spawn(_extend_binding(ctx, order))
    return order_records.order_view(order)


async def sellable_clip(
    ctx: Context, principal: Principal, session_id: str, clip_id: str
) -> tuple[SessionRow, ClipRow]:
    """The ended session and its clip, or the refusal a clip order gets."""
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
    if session.status != session_records.ENDED:
        raise ClientError(
            Code.SESSION_NOT_LIVE, "clips sell once the session ended; buy in the live room"
        )
    if session.archive_deleted_ms is not None:
        raise ClientError(Code.ARCHIVE_DELETED, "the archive of this session was deleted")
    for row in await library.of_session(ctx, session):
        if row.id == clip_id:
            return session, row
    raise ClientError(Code.NOT_FOUND, f"no clip {clip_id} in this session")


async def _earlier(
    ctx: Context, session_id: str, viewer_id: str, idempotency_key: str
) -> OrderRow | None:
    async with transaction(ctx.db) as db:
        found: OrderRow | None = await db.scalar(
            select(OrderRow).where(
                OrderRow.session_id == session_id,
                OrderRow.viewer_id == viewer_id,
                OrderRow.idempotency_key == idempotency_key,
            )
        )
    return found


def _repeated(order: OrderRow, fingerprint: str) -> dict[str, Any]:
    if order.request_hash != fingerprint:
        raise ClientError(
            Code.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used with another body"
        )
    return order_records.order_view(order)


async def _order(
    ctx: Context,
    principal: Principal,
    session: SessionRow,
    clip: ClipRow,
    request: ClipOrderRequest,
    fingerprint: str,
) -> OrderRow:
    async with transaction(ctx.db) as db:
        product = await db.get(ProductRow, clip.product_id)
    if product is None:
        raise ClientError(Code.NOT_FOUND, f"no product {clip.product_id}")
    created = now_ms()
    order = OrderRow(
        id=ids.new_id("ord"),
        brand=principal.brand,
        session_id=session.id,
        product_id=product.id,
        viewer_id=principal.sub,
        qty=request.qty,
        unit_price_cents=product.price_cents,
        discount_cents=0,
        amount_cents=product.price_cents * request.qty,
        coupon_id=None,
        status=RESERVED,
        idempotency_key=request.idempotency_key,
        request_hash=fingerprint,
        created_ms=created,
        expires_ms=created + ctx.settings.hold_ttl_s * 1000,
        clip_id=clip.id,
    )
    binding = await attribution.lookup(ctx.redis, principal.brand, principal.sub)
    if binding is not None:
        order.guide_id, order.guide_store = binding.guide_id, binding.store
        order.attributed_ms, order.attribution_policy = binding.touch_ms, binding.policy
    return order


async def _record(ctx: Context, order: OrderRow) -> None:
    """Take the units and write the order in one transaction, or refuse with nothing written."""
    async with transaction(ctx.db) as db:
        # The update comes first: it locks the product row, so concurrent buyers of the product
        # queue here and the limit check below sees every order committed before this one.
        taken = await db.execute(
            update(ProductRow)
            .where(
                ProductRow.id == order.product_id,
                ProductRow.committed_qty + order.qty <= ProductRow.stock,
            )
            .values(committed_qty=ProductRow.committed_qty + order.qty)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise ClientError(Code.SOLD_OUT, "the product is sold out")
        product = await db.get(ProductRow, order.product_id)
        if product is not None and product.limit_per_viewer is not None:
            bought = await _bought(db, order)
            if bought + order.qty > product.limit_per_viewer:
                raise ClientError(Code.LIMIT_EXCEEDED, "this exceeds the per-viewer limit")
        if order.guide_id is not None:
            order.upstream_guide_id = await db.scalar(
                select(GuideRow.upstream_guide_id).where(
                    GuideRow.brand == order.brand, GuideRow.id == order.guide_id
                )
            )
        db.add(order)


async def _bought(db: AsyncSession, order: OrderRow) -> int:
    total = await db.scalar(
        select(func.coalesce(func.sum(OrderRow.qty), 0)).where(
            OrderRow.product_id == order.product_id,
            OrderRow.viewer_id == order.viewer_id,
            OrderRow.status.in_(COMMITTED),
        )
    )
    return int(total or 0)


async def _extend_binding(ctx: Context, order: OrderRow) -> None:
    # Lock extension, as for live orders: best effort, the order is recorded already.
    assert order.guide_id is not None
    with contextlib.suppress(ClientError):
        policy = await ctx.attribution.get(order.brand)
        await attribution.extend(
            ctx.redis, order.brand, order.viewer_id, order.guide_id, policy, now_ms=now_ms()
        )


async def expire(ctx: Context, order_id: str) -> bool:
    """Settle one lapsed clip order: its units go back to the allocation; True when now."""
    async with transaction(ctx.db) as db:
        order = await db.get(OrderRow, order_id)
        if order is None or order.status != RESERVED:
            return False
        changed = await db.execute(
            update(OrderRow)
            .where(OrderRow.id == order_id, OrderRow.status == RESERVED)
            .values(status=EXPIRED)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await return_units(db, order)
        data = events.order_data(order, status=EXPIRED)
        await outbox.add(db, order.brand, events.ORDER_CANCELLED, data, now_ms=now_ms())
    return True


async def sweep(ctx: Context) -> int:
    """Expire the clip orders whose hold lapsed; returns how many."""
    async with transaction(ctx.db) as db:
        lapsed = list(
            await db.scalars(
                select(OrderRow.id)
                .where(
                    OrderRow.clip_id.is_not(None),
                    OrderRow.status == RESERVED,
                    OrderRow.expires_ms <= now_ms(),
                )
                .limit(SWEEP_BATCH)
            )
        )
    return sum([await expire(ctx, order_id) for order_id in lapsed])


async def run(ctx: Context) -> None:
    """Sweep until the app stops; an engine outage only delays the next pass."""
    await loops.forever(
        lambda: sweep(ctx),
        every_s=SWEEP_INTERVAL_S,
        doing="clip order sweep",
        log=log,
        stopping=ctx.stopping,
    )
