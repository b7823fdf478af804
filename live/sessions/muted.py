"""Who is muted in a session, with the names the host saw them by, for the panel's list.

The mute itself is the hub's (`realtime.moderation`: a set the comment script checks); this
module keeps a name beside each muted user id (``live:{<session_id>}:muted:names``), written
by the mute and dropped by the unmute, so a reloaded panel lists names, not ids.
"""

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.errors import ClientError, Code
from realtime import keys as realtime_keys


def names_key(session_id: str) -> str:
    """Hash of muted user id -> display name."""
    return f"live:{{{session_id}}}:muted:names"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def remember(redis: Redis, session_id: str, user_id: str, name: str | None) -> None:
    """Keep the name a muted user was seen by (their id when none was given)."""
    try:
        await redis.hset(names_key(session_id), user_id, name or user_id)
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "moderation is unavailable; retry") from exc


async def forget(redis: Redis, session_id: str, user_id: str) -> None:
    """Drop an unmuted user's name."""
    try:
        await redis.hdel(names_key(session_id), user_id)
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "moderation is unavailable; retry") from exc


async def listed(redis: Redis, session_id: str) -> list[dict[str, str]]:
    """The session's muted users, by name: ``[{user_id, name}]``."""
    try:
        muted = await redis.smembers(realtime_keys.muted(session_id))
        names = await redis.hgetall(names_key(session_id))
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "moderation is unavailable; retry") from exc
    known = {_text(k): _text(v) for k, v in names.items()}
    users = sorted(_text(m) for m in muted)
    return sorted(
        ({"user_id": u, "name": known.get(u, u)} for u in users), key=lambda u: u["name"].lower()
    )
