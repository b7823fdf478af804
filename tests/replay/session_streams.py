"""`SessionStreams`: writes a session's Redis Streams as the app does, for archiver tests.

It follows the stream contract: entry ``<seq>-0`` with field ``e`` holding the event JSON,
and a counter holding the highest number handed out.
"""

from typing import Any

import orjson
import redis.asyncio as aioredis

START_TS = 1_763_800_000_000


def stream_keys(session_id: str) -> dict[str, str]:
    """Stream key of each kind of a session."""
    return {
        "events": f"live:{{{session_id}}}:events",
        "comments": f"live:{{{session_id}}}:comments",
    }


def counter_keys(session_id: str) -> dict[str, str]:
    """Counter key of each kind of a session."""
    return {kind: f"{key}:seq" for kind, key in stream_keys(session_id).items()}


class SessionStreams:
    """The two streams of session `session_id`."""

    def __init__(self, redis: aioredis.Redis, session_id: str) -> None:
        self.redis = redis
        self.session_id = session_id
        self.keys = stream_keys(session_id)
        self.counters = counter_keys(session_id)

    async def event(self, kind: str, t_ms: int, **fields: Any) -> int:
        """Append a durable event of type `kind`; returns its seq."""
        seq = int(await self.redis.incr(self.counters["events"]))
        event = {"type": kind, "seq": seq, **fields, "ts": START_TS + t_ms, "t_ms": t_ms}
        await self.redis.xadd(self.keys["events"], {"e": orjson.dumps(event)}, id=f"{seq}-0")
        return seq

    async def comment(self, t_ms: int, text: str = "hi", user: str = "u1") -> int:
        """Append a comment; returns its number."""
        number = int(await self.redis.incr(self.counters["comments"]))
        comment = {
            "type": "comment",
            "id": str(number),
            "user": user,
            "text": text,
            "ts": START_TS + t_ms,
            "t_ms": t_ms,
        }
        await self.redis.xadd(self.keys["comments"], {"e": orjson.dumps(comment)}, id=f"{number}-0")
        return number

    async def pins(self, count: int, *, t_ms: int = 0, step_ms: int = 10) -> None:
        """Append `count` pin events, `step_ms` apart from `t_ms` on."""
        for index in range(count):
            await self.event("pin", t_ms + index * step_ms, product_id=f"p{index % 4}")

    async def comments(self, count: int, *, t_ms: int = 0, step_ms: int = 10) -> None:
        """Append `count` comments, `step_ms` apart from `t_ms` on."""
        for index in range(count):
            await self.comment(t_ms + index * step_ms, text=f"comment {index}")

    async def end(self, t_ms: int) -> int:
        """Append the ``ended`` event; returns its seq."""
        return await self.event("ended", t_ms)

    async def pending(self, kind: str) -> int:
        """Entries delivered to the archiver group and not acknowledged."""
        summary = await self.redis.xpending(self.keys[kind], "archiver")
        return int(summary["pending"])
