"""Answering what a viewer sends on the room socket: comments, likes, moderation, claims.

Contract: each command gets one answer frame (``ack`` with the command's ``ref``, or ``pong``);
a refusal raises `ClientError` with its catalog code, which the pump sends as an ``error``
frame. Comments pass, in order: non-empty, the length limit, the session not ended, the
viewer's rate limit, then the brand's rules (`CommentFilter`) before they are published;
listeners hear about each published comment afterwards and cannot refuse it. The realtime
package knows no commerce rules: claims go to the handler the app registers.
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
#: Checks a comment's text for the brand's rules; returns the text to publish (maybe masked)
#: or raises `ClientError`.
CommentFilter = Callable[[Viewer, str], Awaitable[str]]
#: Told about every published comment as ``(session_id, room seq, viewer, text)`` (lucky draws
#: enter keyword senders; the seq lets them cache what only a durable event changes).
CommentListener = Callable[[str, int, Viewer, str], Awaitable[None]]
MODERATOR_ROLES = frozenset({"host", "admin"})


class Commands:
    """The answers to client commands of one node's rooms."""

    def __init__(
        self, redis: Redis, bus: EventBus, moderation: Moderation, *, comment_max_chars: int
    ) -> None:
        self._redis = redis
        self._bus = bus
        self._moderation = moderation
        self._comment_max_chars = comment_max_chars
        self.claim_handler: ClaimHandler | None = None
        self.comment_filter: CommentFilter | None = None
        self.comment_listeners: list[CommentListener] = []

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
        if self.claim_handler is None:
            raise ClientError(Code.UNKNOWN_TYPE, "claims are not handled here")
        result = await self.claim_handler(room.session_id, viewer, command)
        return protocol.ack_frame(command.ref, result)

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
        return protocol.ack_frame(command.ref, {"id": str(number), "text": text})

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
