"""The event bus on a real Redis: seq numbering, stored frames, the end of comments."""

import asyncio

import pytest
import redis.asyncio as aioredis

from common import codec
from realtime.bus import EventBus, SessionClosed


async def test_concurrent_publishers_get_contiguous_seqs(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """Publishing from many tasks numbers events 1..N, and the stream is in seq order."""
    bus = EventBus(redis)
    seqs = await asyncio.gather(*(bus.publish(unique_id, "pin", {"n": n}) for n in range(50)))
    assert sorted(seqs) == list(range(1, 51))
    missed = await bus.missed(unique_id, since=0, until=50)
    assert missed is not None
    assert [entry.number for entry in missed] == list(range(1, 51))
    for entry in missed:
        frame = codec.decode(entry.frame)
        assert (frame["type"], frame["seq"]) == ("pin", entry.number)


async def test_no_comment_after_the_end(redis: aioredis.Redis, unique_id: str) -> None:
    """Once ``ended`` is published, comments are refused, so the archive can close."""
    bus = EventBus(redis)
    assert await bus.publish_comment(unique_id, {"text": "before"}, author_id="u") == 1
    await bus.publish(unique_id, "ended", {})
    with pytest.raises(SessionClosed):
        await bus.publish_comment(unique_id, {"text": "after"}, author_id="u")
    positions = await bus.positions(unique_id)
    assert (positions.seq, positions.comment) == (1, 1)


async def test_missed_reports_trimmed_history(redis: aioredis.Redis, unique_id: str) -> None:
    """When entries a viewer needs were trimmed away, `missed` answers None."""
    bus = EventBus(redis)
    for n in range(5):
        await bus.publish(unique_id, "pin", {"n": n})
    await redis.xtrim(f"live:{{{unique_id}}}:events", minid="3-0", approximate=False)
    assert await bus.missed(unique_id, since=0, until=5) is None
    tail = await bus.missed(unique_id, since=2, until=5)
    assert tail is not None
    assert [entry.number for entry in tail] == [3, 4, 5]


async def test_publish_many_numbers_events_consecutively(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """Several events in one step get consecutive seqs in the order given, even while other
    publishers run, and each is stored as its own frame."""
    bus = EventBus(redis)
    batches = [[("purchase", {"n": n}), ("stock", {"n": n}), ("sold_out", {})] for n in range(20)]
    others = [bus.publish(unique_id, "pin", {"n": n}) for n in range(20)]
    lasts = await asyncio.gather(
        *(bus.publish_many(unique_id, batch) for batch in batches), *others
    )
    assert sorted(lasts[20:] + [s - k for s in lasts[:20] for k in range(3)]) == list(range(1, 81))
    missed = await bus.missed(unique_id, since=0, until=80)
    assert missed is not None
    frames = {entry.number: codec.decode(entry.frame) for entry in missed}
    for last, batch in zip(lasts[:20], batches, strict=True):
        stored = [frames[seq] for seq in range(last - 2, last + 1)]
        assert [frame["type"] for frame in stored] == ["purchase", "stock", "sold_out"]
        assert [frame["seq"] for frame in stored] == [last - 2, last - 1, last]
        assert stored[0]["n"] == stored[1]["n"] == batch[0][1]["n"]
    with pytest.raises(ValueError, match="at least one event"):
        await bus.publish_many(unique_id, [])
