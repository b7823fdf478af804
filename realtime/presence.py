"""Presence: how many viewers a room has across nodes, and its likes, refreshed every tick.

Contract: every tick each node writes its own count of a room's sockets into the room's
presence hash (field = node id, value = ``count|expires_ms``) and reads the total back in the
same pipeline, with the room's like counter. A node that stops writing (killed) drops out of
the total ``PRESENCE_TTL_MS`` after its last refresh; a room that empties on a node removes
its field at once (`leave`). Joins and leaves never cause a message each, only a changed total
per tick (no join or leave storms), sent to the room's viewers at most once a second (a
joining viewer's snapshot has the latest total). About once a second the viewers present are
also recorded with the time (``seen``): lucky draws "among viewers present" read it.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import loops
from realtime import keys
from realtime.room import Room

log = logging.getLogger(__name__)

PRESENCE_TTL_MS = 5_000
#: The viewer count goes to the room's viewers at most this often.
VIEWERS_EVERY_S = 1.0
#: Who-was-present is recorded every this many ticks (about once a second), not every tick:
#: it writes one entry per viewer.
SEEN_EVERY_TICKS = 5


class Presence:
    """Presence of this node's rooms, under ``node_id``."""

    def __init__(self, redis: Redis, *, node_id: str) -> None:
        self._redis = redis
        self._node_id = node_id
        self._refreshes = 0

    async def run(
        self, rooms: Callable[[], Iterable[Room]], *, every_s: float, stopping: asyncio.Event
    ) -> None:
        """Refresh the rooms ``rooms()`` names every ``every_s`` until ``stopping`` is set."""
        await loops.forever(
            lambda: self.refresh_all(tuple(rooms())),
            every_s=every_s,
            doing="presence refresh",
            log=log,
            stopping=stopping,
            on_schedule=True,
        )

    async def refresh_all(self, rooms: Iterable[Room]) -> None:
        """One refresh of every room; a room Redis failed is left for the next tick."""
        self._refreshes += 1
        record_seen = self._refreshes % SEEN_EVERY_TICKS == 0
        for room in rooms:
            try:
                viewers, likes = await self.refresh(room, record_seen=record_seen)
            except RedisError as exc:
                log.warning("presence of %s not refreshed: %s", room.session_id, exc)
                continue
            room.viewers_total = viewers
            now = time.monotonic()
            if viewers != room.viewers_pushed and now - room.viewers_pushed_at >= VIEWERS_EVERY_S:
                # At most once a second: in a join storm the count changes every tick, and
                # a frame to every viewer every tick would cost the room more than the joins.
                room.viewers_pushed, room.viewers_pushed_at = viewers, now
                room.tick.set_viewers(viewers)
            if likes != room.likes_total:
                room.likes_total = likes
                room.tick.set_likes(likes)

    async def refresh(self, room: Room, *, record_seen: bool) -> tuple[int, int]:
        """Publish this node's viewer count; read the room's total viewers and likes."""
        now_ms = int(time.time() * 1000)
        key = keys.presence(room.session_id)
        mine = f"{len(room.connections)}|{now_ms + PRESENCE_TTL_MS}"
        present = (
            {c.viewer.user_id: now_ms for c in room.connections if c.viewer.role == "viewer"}
            if record_seen
            else {}
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self._node_id, mine)
            pipe.hgetall(key)
            pipe.get(keys.likes(room.session_id))
            if present:
                pipe.zadd(keys.seen(room.session_id), present)
            counts, likes = (await pipe.execute())[1:3]
        total = 0
        for value in counts.values():
            count, expires_ms = value.decode().split("|")
            if int(expires_ms) > now_ms:
                total += int(count)
        return total, int(likes or 0)

    async def leave(self, session_id: str) -> None:
        """This node has no socket left in ``session_id``: drop its count now (best effort)."""
        try:
            await self._redis.hdel(keys.presence(session_id), self._node_id)
        except RedisError as exc:
            log.debug("presence of %s left to expire: %s", session_id, exc)
