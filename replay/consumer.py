"""`StreamConsumer`: one session stream read through the archiver's consumer group.

Entry ids follow the stream contract ``<seq>-0``; entries come back as `Entry` objects in
ascending `seq` order. The group records which entries were delivered and not yet acknowledged
(its pending list), which is what lets a new owner take over a dead archiver's entries.
"""

import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from replay.segments import Entry

logger = logging.getLogger(__name__)

_CLAIM_BATCH = 500


def _seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    # The contract numbers entries "<seq>-0"; the part after the dash carries nothing.
    return int(text.partition("-")[0])


def _entries(key: str, items: Iterable[Any]) -> list[Entry]:
    entries: list[Entry] = []
    for entry_id, fields in items:
        if fields is None:
            continue  # deleted after delivery (XDEL): nothing left to archive
        raw = fields.get(b"e")
        if raw is None:
            logger.error("entry %s of %s has no field 'e'; archived empty", entry_id, key)
            raw = b""
        entries.append(Entry(_seq(entry_id), raw))
    return entries


class StreamConsumer:
    """Reads stream `key` as member `consumer` of consumer group `group`."""

    def __init__(self, redis: aioredis.Redis, key: str, *, group: str, consumer: str) -> None:
        self.key = key
        self.group = group
        self.consumer = consumer
        self._redis = redis

    async def ensure_group(self) -> None:
        """Create the group at the start of the stream (and the stream) unless it exists."""
        try:
            await self._redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def claim_pending(self) -> list[Entry]:
        """Take over every delivered-but-unacknowledged entry of the group, whoever held it.

        Only the holder of the session's archive lease may call this: it claims entries that a
        live consumer would still be working on.
        """
        entries: list[Entry] = []
        start: bytes | str = "0-0"
        while True:
            answer = await self._redis.xautoclaim(
                self.key, self.group, self.consumer, 0, start_id=start, count=_CLAIM_BATCH
            )
            entries.extend(_entries(self.key, answer[1]))
            start = answer[0]
            if _seq(start) == 0:
                return entries

    async def read_new(self, count: int) -> list[Entry]:
        """Up to `count` entries never delivered to the group before; never blocks."""
        answer: Any = await self._redis.xreadgroup(
            self.group, self.consumer, {self.key: ">"}, count=count
        )
        if not answer:
            return []
        # RESP2 answers [[key, entries]]; RESP3 answers {key: [entries]}.
        streams = answer.values() if isinstance(answer, dict) else (item[1] for item in answer)
        return [entry for items in streams for entry in _entries(self.key, _flat(items))]

    async def read_range(self, first: int, last: int) -> list[Entry]:
        """Entries `first`..`last` present in the stream, delivered or not."""
        answer = await self._redis.xrange(self.key, f"{first}-0", f"{last}-0")
        return _entries(self.key, answer or [])

    async def last(self) -> Entry | None:
        """The newest entry of the stream; None when it is empty."""
        answer = await self._redis.xrevrange(self.key, count=1)
        entries = _entries(self.key, answer or [])
        return entries[0] if entries else None

    async def ack(self, seqs: Iterable[int]) -> None:
        """Acknowledge entries: they leave the group's pending list."""
        ids = [f"{seq}-0" for seq in seqs]
        if ids:
            await self._redis.xack(self.key, self.group, *ids)

    async def trim(self, *, archived_through: int, keep: int) -> None:
        """Delete the entries with ``seq <= archived_through - keep``, none still pending.

        The caller guarantees that every entry up to `archived_through` is in the archive store.
        Entries the group still holds as pending are kept whatever their number: only the
        archiver acknowledges, and only what the store confirmed, so a pending entry may be one
        the store has not got yet.
        """
        below = archived_through - keep + 1  # XTRIM MINID deletes the ids lower than this one
        summary: Any = await self._redis.xpending(self.key, self.group)
        if summary["pending"]:
            below = min(below, _seq(summary["min"]))
        if below > 1:
            # Exact, not "~": an approximate trim may keep whole nodes of the stream past the
            # retention; exactness is cheap here since it runs once per stored segment.
            await self._redis.xtrim(self.key, minid=f"{below}-0", approximate=False)


def _flat(items: Any) -> Any:
    # redis-py's RESP3 parser wraps a stream's entries (tuples) in one more list than RESP2.
    if items and isinstance(items[0], list):
        return items[0]
    return items
