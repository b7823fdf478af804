"""Answering what a viewer sends on the room socket: comments, likes, moderation, claims,
buys and waitlist joins.

Contract: each command gets one answer frame (``ack`` with the command's ``ref``, or ``pong``);
a refusal raises `ClientError` with its catalog code, which the pump sends as an ``error``
frame. Comments pass, in order: non-empty, the length limit, the session not ended, the
viewer's rate limit, then the brand's rules (`CommentFilter`) before they are published;
listeners hear about each published comment afterwards and cannot refuse it. The realtime
package knows no commerce rules: claims, buys and waitlist joins go to the handlers the app
registers; buys and waitlist messages share one token bucket per user on each node (the order
budget), apart from the comments' so that a muted or chatty viewer can still buy.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from common.errors import ClientError, Code
from realtime import keys, protocol
from realtime.bus import EventBus, Muted, SessionClosed
from realtime.connection import Viewer
from realtime.moderation import Moderation
from realtime.ratelimit import TokenBucket
from realtime.room import Room

log = logging.getLogger(__name__)

ClaimHandler = Callable[[str, Viewer, protocol.Claim], Awaitable[dict[str, Any]]]
#: Answers a ``buy`` with the ack's fields (``{"order": ...}``) or raises `ClientError`.
BuyHandler = Callable[[str, Viewer, protocol.Buy], Awaitable[dict[str, Any]]]
#: Answers a ``waitlist`` / ``leave_waitlist`` with the ack's fields or raises `ClientError`.
WaitlistHandler = Callable[[str, Viewer, protocol.Waitlist], Awaitable[dict[str, Any]]]
#: Checks a comment's text for the brand's rules; returns the text to publish (maybe masked)
#: or raises `ClientError`.
CommentFilter = Callable[[Viewer, str], Awaitable[str]]
#: Told about every published comment as ``(session_id, room seq, viewer, text)`` (lucky draws
#: enter keyword senders; the seq lets them cache what only a durable event changes).
CommentListener = Callable[[str, int, Viewer, str], Awaitable[None]]
#: Told about a comment that may be a question, as ``(session_id, viewer, comment id or None,
#: text, asked)``: ``asked`` when the viewer tapped "ask my guide" (the comment is then not
#: published: its id is None). Returns the ack's extra fields (``{"question_id": ...}`` when
#: it became a question; empty otherwise); raising `ClientError` refuses an asked question.
QuestionHandler = Callable[[str, Viewer, str | None, str, bool], Awaitable[dict[str, Any]]]
MODERATOR_ROLES = frozenset({"host", "admin"})
#: Order budgets kept per node before the full ones (users quiet for a while) are dropped.
BUDGETS_KEPT = 50_000


class Commands:
    """The answers to client commands of one node's rooms."""

    def __init__(
        self,
        redis: Redis,
        bus: EventBus,
        moderation: Moderation,
        *,
        comment_max_chars: int,
        order_rate_per_s: float = 2.0,
        order_burst: int = 10,
    ) -> None:
        self._redis = redis
        self._bus = bus
        self._moderation = moderation
        self._comment_max_chars = comment_max_chars
        self._order_rate_per_s = order_rate_per_s
        self._order_burst = order_burst
        self._order_budgets: dict[tuple[str, str], TokenBucket] = {}
        self.claim_handler: ClaimHandler | None = None
        self.buy_handler: BuyHandler | None = None
        self.waitlist_handler: WaitlistHandler | None = None
        self.comment_filter: CommentFilter | None = None
        self.comment_listeners: list[CommentListener] = []
        self.question_handler: QuestionHandler | None = None

    async def answer(
        self, room: Room, viewer: Viewer, command: protocol.Command, bucket: TokenBucket
    ) -> dict[str, Any]:
        """The answer frame to ``command`` from ``viewer`` in ``room``."""
        if isinstance(command, protocol.Ping):
            return {"type": "pong", "ref": command.ref}
        if isinstance(command, protocol.Comment):
            return await self._comment(room, viewer, command, bucket)
        if isinstance(command, protocol.Like):
            total = await self._redis.incrby(keys.likes(room.session_id), command.count)
            return protocol.ack_frame(command.ref, {"likes": int(total)})
        if isinstance(command, protocol.Moderate):
            return await self._moderate(room, viewer, command)
        if isinstance(command, protocol.Buy | protocol.Waitlist):
            return await self._commerce(room, viewer, command)
        if self.claim_handler is None:
            raise ClientError(Code.UNKNOWN_TYPE, "claims are not handled here")
        result = await self.claim_handler(room.session_id, viewer, command)
        return protocol.ack_frame(command.ref, result)

    async def _commerce(
        self, room: Room, viewer: Viewer, command: protocol.Buy | protocol.Waitlist
    ) -> dict[str, Any]:
        if not self._order_budget(room.session_id, viewer.user_id).take():
            raise ClientError(Code.RATE_LIMITED, "too many orders at once; slow down")
        if isinstance(command, protocol.Buy):
            if self.buy_handler is None:
                raise ClientError(Code.UNKNOWN_TYPE, "buying is not handled here")
            result = await self.buy_handler(room.session_id, viewer, command)
        else:
            if self.waitlist_handler is None:
                raise ClientError(Code.UNKNOWN_TYPE, "waitlists are not handled here")
            result = await self.waitlist_handler(room.session_id, viewer, command)
        return protocol.ack_frame(command.ref, result)

    def _order_budget(self, session_id: str, user_id: str) -> TokenBucket:
        """The user's order budget on this node (shared by their sockets in the session)."""
        budget = self._order_budgets.get((session_id, user_id))
        if budget is None:
            if len(self._order_budgets) >= BUDGETS_KEPT:
                # A full bucket is what a new one would be: forgetting it changes nothing.
                full = [key for key, kept in self._order_budgets.items() if kept.full()]
                for key in full:
                    del self._order_budgets[key]
            budget = TokenBucket(rate_per_s=self._order_rate_per_s, burst=self._order_burst)
            self._order_budgets[(session_id, user_id)] = budget
        return budget

    async def _comment(
        self, room: Room, viewer: Viewer, command: protocol.Comment, bucket: TokenBucket
    ) -> dict[str, Any]:
        text = command.text.strip()
        if not text:
            raise ClientError(Code.INVALID_REQUEST, "a comment needs some text")
        if len(text) > self._comment_max_chars:
            raise ClientError(
                Code.COMMENT_TOO_LONG, f"comments are limited to {self._comment_max_chars} chars"
            )
        if room.ended:
            raise ClientError(Code.SESSION_ENDED, "the session has ended")
        if not bucket.take():
            raise ClientError(Code.RATE_LIMITED, "too many comments; slow down")
        if self.comment_filter is not None:
            text = await self.comment_filter(viewer, text)
        if command.ask:
            return await self._ask(room, viewer, command, text)
        ts, t_ms = room.clock()
        fields = {
            "user": viewer.name or viewer.user_id,
            "user_id": viewer.user_id,
            "role": viewer.role,
            "text": text,
            "ts": ts,
            "t_ms": t_ms,
        }
        try:
            number = await self._bus.publish_comment(
                room.session_id, fields, author_id=viewer.user_id
            )
        except SessionClosed:
            raise ClientError(Code.SESSION_ENDED, "the session has ended") from None
        except Muted:
            raise ClientError(Code.MUTED, "the host has muted you in this session") from None
        for listener in self.comment_listeners:
            try:
                await listener(room.session_id, room.seq, viewer, text)
            except Exception:
                log.exception("comment listener failed")
        extra: dict[str, Any] = {}
        if self.question_handler is not None and viewer.role == "viewer":
            try:
                extra = await self.question_handler(
                    room.session_id, viewer, str(number), text, False
                )
            except ClientError as exc:
                # The comment is published; only its routing as a question failed.
                log.warning("comment %s not routed as a question: %s", number, exc.message)
        return protocol.ack_frame(command.ref, {"id": str(number), "text": text, **extra})

    async def _ask(
        self, room: Room, viewer: Viewer, command: protocol.Comment, text: str
    ) -> dict[str, Any]:
        """A question for the viewer's guide only: checked like a comment (mute included),
        never published to the room."""
        if self.question_handler is None or viewer.role != "viewer":
            raise ClientError(Code.FORBIDDEN, "only viewers ask their guide")
        if await self._moderation.is_muted(room.session_id, viewer.user_id):
            raise ClientError(Code.MUTED, "the host has muted you in this session")
        extra = await self.question_handler(room.session_id, viewer, None, text, True)
        return protocol.ack_frame(command.ref, {"text": text, **extra})

    async def _moderate(
        self, room: Room, viewer: Viewer, command: protocol.Moderate
    ) -> dict[str, Any]:
        if viewer.role not in MODERATOR_ROLES:
            raise ClientError(Code.FORBIDDEN, f"{command.action} is for hosts")
        session_id, target = room.session_id, command.target
        if command.action == "mute":
            await self._moderation.mute(session_id, target)
        elif command.action == "unmute":
            await self._moderation.unmute(session_id, target)
        elif command.action == "kick":
            await self._moderation.kick(session_id, target)
        else:
            await self._moderation.delete_comment(session_id, target, started_ms=room.started_ms)
        return protocol.ack_frame(command.ref, {"action": command.action, "target": target})
