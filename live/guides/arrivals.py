"""A viewer arriving through a guide's share code: verify the code, then touch the guide.

Contract: a forged, malformed, expired, other-brand or other-session code (or a clip code used for
another clip) touches nobody; the viewer goes on, and the reason is logged. A valid code touches its
guide under the brand's binding policy (`live.guides.attribution`); a touch that binds is recorded
(``guide_bindings``, for viewers brought: written in batches by the node's `BindingWriter`, so a
join never waits for the record) and counted on the session's leaderboard.
"""

import logging
import time

from sqlalchemy import select

from live.auth.tokens import Principal
from live.commerce.order_records import PAID
from live.context import Context
from live.db.models import OrderRow
from live.db.unit import transaction
from live.guides import attribution, leaderboard, share_codes
from live.platform import ids
from live.platform.clock import now_ms

log = logging.getLogger(__name__)


async def from_share(
    ctx: Context, caller: Principal, session_id: str, share: str, *, clip_id: str | None = None
) -> str | None:
    """Touch the guide of ``share`` for a viewer of ``session_id`` (watching ``clip_id``);
    returns the touch's outcome, or None when the code did not count."""
    try:
        code = share_codes.verify(ctx.settings.secret, share, now_s=int(time.time()))
    except share_codes.ShareCodeRefused as refused:
        log.info("share code of viewer %s not attributed: %s", caller.sub, refused.reason)
        return None
    if code.brand != caller.brand or code.session_id != session_id:
        log.info("share code of viewer %s not attributed: other brand or session", caller.sub)
        return None
    if code.clip_id is not None and code.clip_id != clip_id:
        log.info("share code of viewer %s not attributed: another clip", caller.sub)
        return None
    policy = await ctx.attribution.get(caller.brand)
    binding = attribution.Binding(
        guide_id=code.guide_id,
        store=code.store,
        session_id=session_id,
        touch_ms=now_ms(),
        policy=policy.kind,
    )
    customer = policy.new_customers_only and await _is_customer(ctx, caller)
    outcome = await attribution.touch(
        ctx.redis, caller.brand, caller.sub, binding, policy, is_customer=customer
    )
    log.info("share code of guide %s touched viewer %s: %s", code.guide_id, caller.sub, outcome)
    if outcome == "bound":
        ctx.bindings.add(
            {
                "id": ids.new_id("bnd"),
                "brand": caller.brand,
                "guide_id": code.guide_id,
                "viewer_id": caller.sub,
                "session_id": session_id,
                "bound_ms": binding.touch_ms,
            }
        )
        await leaderboard.count_viewer(ctx.redis, ctx.bus, session_id, code.guide_id)
    return outcome


async def _is_customer(ctx: Context, caller: Principal) -> bool:
    """Whether the viewer has a paid order in the brand (for ``new_customers_only``)."""
    async with transaction(ctx.db) as db:
        found = await db.scalar(
            select(OrderRow.id)
            .where(
                OrderRow.brand == caller.brand,
                OrderRow.viewer_id == caller.sub,
                OrderRow.status == PAID,
            )
            .limit(1)
        )
    return found is not None
