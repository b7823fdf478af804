"""Moderation of a session, holding on every node at once.

Contract: a mute is checked inside the comment publish script, so from the moment `mute`
returns no node accepts that author's comments; a kick closes the user's sockets on every node
(through the control stream) and refuses their joins for the rest of the session; a deleted
comment becomes a durable ``comment_deleted`` event, so viewers drop it and the archive marks it.
"""

import time
from typing import Any

from redis.asyncio import Redis

from common.redis_errors import translated
from realtime import keys
from realtime.bus import BusUnavailable, EventBus


class Moderation:
    """Mute, kick, delete and private messages for the sessions on one Redis."""

    def __init__(self, redis: Redis, bus: EventBus) -> None:
        self._redis = redis
        self._bus = bus

    async def _call(self, command: Any) -> Any:
        with translated(into=BusUnavailable):
            return await command

    async def mute(self, session_id: str, user_id: str) -> None:
        """Refuse the user's comments in this session from now on."""
        await self._call(self._redis.sadd(keys.muted(session_id), user_id))

    async def unmute(self, session_id: str, user_id: str) -> None:
        """Accept the user's comments again."""
        await self._call(self._redis.srem(keys.muted(session_id), user_id))

    async def is_muted(self, session_id: str, user_id: str) -> bool:
        """True while the user is muted."""
        return bool(await self._call(self._redis.sismember(keys.muted(session_id), user_id)))

    async def kick(self, session_id: str, user_id: str) -> None:
        """Close the user's sockets on every node and refuse them for the rest of the session."""
        await self._call(self._redis.sadd(keys.kicked(session_id), user_id))
        await self._bus.send_control(session_id, {"kind": "kick", "user_id": user_id})

    async def kicked(self, session_id: str) -> set[str]:
        """Everyone kicked from the session so far (a room loads it once, then follows the
        ``kick`` control messages, so that a join needs no Redis call to be checked)."""
        members = await self._call(self._redis.smembers(keys.kicked(session_id)))
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}

    async def delete_comment(
        self, session_id: str, comment_id: str, *, started_ms: int | None
    ) -> int:
        """Publish ``comment_deleted``; returns its ``seq``."""
        ts = int(time.time() * 1000)
        t_ms = ts - started_ms if started_ms is not None else 0
        fields = {"comment_id": comment_id, "ts": ts, "t_ms": t_ms}
        return await self._bus.publish(session_id, "comment_deleted", fields)

    async def private(self, session_id: str, user_id: str, frame: dict[str, Any]) -> None:
        """Send ``frame`` to the user's sockets in this session, on whichever nodes they are."""
        await self._bus.send_control(
            session_id, {"kind": "private", "user_id": user_id, "frame": frame}
        )
