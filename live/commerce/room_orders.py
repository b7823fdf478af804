"""Buying on the room socket: the hub's handlers for ``buy`` (the same order as over HTTP)
and for waitlist joins and leaves.

Contract: a ``buy`` is `live.commerce.orders.place` with the socket's viewer as the buyer and
the message's ``key`` as the idempotency key, so the reserve script, the per-viewer limit, the
flash sale's window and cap, the group-committed record with the attributed guide, and the
answer are those of ``POST .../orders``; the same key over HTTP or the socket answers the same
order. The ack carries the order as ``order``; a refusal is a `ClientError` from the one
catalog. An engine outage answers ``unavailable`` and leaves the socket open. A buy goes on to
its end when its socket drops meanwhile (the hub lets a command being answered finish): the
retry of its key finds what it did. A ``buy`` that says ``first`` (its key never sent before)
may be refused by the node's sold-out gate without a reserve (`live.commerce.sold_out_gate`).
"""

import time
from typing import Any

from common.errors import OUTAGES, ClientError, Code
from live.auth.tokens import Principal, Role
from live.commerce import offers, orders, waitlists
from live.context import Context
from realtime.commands import BuyHandler, WaitlistHandler
from realtime.connection import Viewer
from realtime.protocol import Buy, Waitlist


def principal_of(viewer: Viewer) -> Principal:
    """The buyer behind a room socket (its token was verified when the socket joined)."""
    return Principal(
        sub=viewer.user_id, role=Role(viewer.role), brand=viewer.brand, name=viewer.name
    )


def buy_handler(ctx: Context) -> BuyHandler:
    """The hub's handler for a viewer's ``buy`` message."""

    async def handle(session_id: str, viewer: Viewer, command: Buy) -> dict[str, Any]:
        if viewer.role != Role.VIEWER:
            raise ClientError(Code.FORBIDDEN, "only viewers buy")
        request = orders.OrderRequest(
            product_id=command.product_id,
            qty=command.qty,
            coupon_id=command.coupon_id,
            idempotency_key=command.key,
            offer_id=command.offer_id,
            first_send=command.first,
        )
        started = time.perf_counter()
        try:
            order = await offers.purchase(ctx, principal_of(viewer), session_id, request)
        except OUTAGES as exc:
            # HTTP answers an outage through the app's error boundary; a socket has none.
            raise ClientError(Code.UNAVAILABLE, "sales are unavailable; retry") from exc
        finally:
            ctx.request_metrics.order_seconds.observe(time.perf_counter() - started)
        return {"order": order}

    return handle


def waitlist_handler(ctx: Context) -> WaitlistHandler:
    """The hub's handler for ``waitlist`` and ``leave_waitlist``: the viewer's place (as
    ``POST .../waitlist`` answers it), or ``{product_id, status}`` after leaving."""

    async def handle(session_id: str, viewer: Viewer, command: Waitlist) -> dict[str, Any]:
        if viewer.role != Role.VIEWER:
            raise ClientError(Code.FORBIDDEN, "only viewers wait for products")
        act = waitlists.join if command.join else waitlists.leave
        try:
            return await act(ctx, principal_of(viewer), session_id, command.product_id)
        except OUTAGES as exc:
            raise ClientError(Code.UNAVAILABLE, "waitlists are unavailable; retry") from exc

    return handle
