"""Stream trimming: only archived, acknowledged entries go, and a retention window of them stays."""

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from replay.archiver import Archiver
from replay.consumer import StreamConsumer
from replay.local_store import LocalArchiveStore
from replay.s3_store import S3ArchiveStore
from replay.store import ArchiveStore
from tests.replay.checks import assert_archived_exactly_once, segment_ranges
from tests.replay.session_streams import SessionStreams
from tests.support.polling import eventually
from tests.support.tcp_gate import TcpGate

MakeArchiver = Callable[..., Archiver]
ROUNDS = 30


async def _stream_seqs(redis: aioredis.Redis, key: str) -> list[int]:
    entries: Any = await redis.xrange(key)
    return [int(entry_id.decode().partition("-")[0]) for entry_id, _ in entries]


async def _archived_seqs(store: ArchiveStore, session_id: str, kind: str) -> set[int]:
    ranges = await segment_ranges(store, session_id, kind)
    return {seq for first, last in ranges for seq in range(first, last + 1)}


async def _assert_unarchived_in_stream(
    streams: SessionStreams, store: ArchiveStore, kind: str
) -> None:
    counted = int(await streams.redis.get(streams.counters[kind]) or 0)
    unarchived = set(range(1, counted + 1)) - await _archived_seqs(store, streams.session_id, kind)
    missing = unarchived - set(await _stream_seqs(streams.redis, streams.keys[kind]))
    assert not missing, f"{kind} entries {sorted(missing)} were trimmed before being archived"


async def test_trims_archived_entries_down_to_the_retention_window(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """After each stored segment, each stream keeps its last retain_entries archived entries."""
    sid = streams.session_id
    await streams.pins(23)
    await streams.comments(9)
    archiver = make_archiver(local_store, segment_events=5, segment_ms=600_000, retain_entries=3)

    async def full_segments_stored() -> bool:
        await archiver.archive_once(sid)
        return (await segment_ranges(local_store, sid, "events"))[-1:] == [(16, 20)]

    await eventually(full_segments_stored, what="events 1..20 stored")

    # 21..23 wait for their segment to fill or age: unarchived, so kept with 18..20.
    assert await _stream_seqs(redis, streams.keys["events"]) == list(range(18, 24))
    assert await _stream_seqs(redis, streams.keys["comments"]) == list(range(3, 10))
    await streams.end(t_ms=1000)
    for kind in ("events", "comments"):
        await _assert_unarchived_in_stream(streams, local_store, kind)


async def test_trim_keeps_entries_still_pending_in_the_group(
    redis: aioredis.Redis, streams: SessionStreams
) -> None:
    """An entry delivered but not acknowledged survives a trim that would otherwise reach it."""
    await streams.pins(10)
    consumer = StreamConsumer(redis, streams.keys["events"], group="archiver", consumer="c")
    await consumer.ensure_group()
    await consumer.read_new(10)
    await consumer.ack(range(1, 5))

    await consumer.trim(archived_through=10, keep=1)

    assert await _stream_seqs(redis, streams.keys["events"]) == list(range(5, 11))


async def test_an_unarchived_entry_is_never_trimmed_even_while_the_store_is_down(
    streams: SessionStreams,
    s3_gate: TcpGate,
    gated_store: S3ArchiveStore,
    s3_store: S3ArchiveStore,
    make_archiver: MakeArchiver,
    tmp_path: Path,
) -> None:
    """Through random outages, spooling and draining, every entry not in the store stays."""
    rng = random.Random(7)
    sid = streams.session_id
    archiver = make_archiver(gated_store, spool_dir=tmp_path / "spool", retain_entries=1)
    await streams.pins(3)
    await archiver.archive_once(sid)  # the session is opened while the store answers
    events = 3
    comments = 0
    store_up = True
    for _ in range(ROUNDS):
        if rng.random() < 0.3:
            if store_up:
                await s3_gate.close()
            else:
                await s3_gate.open()
            store_up = not store_up
        new_events, new_comments = rng.randint(0, 8), rng.randint(0, 8)
        await streams.pins(new_events, t_ms=events * 10)
        await streams.comments(new_comments, t_ms=events * 10)
        events, comments = events + new_events, comments + new_comments
        await archiver.archive_once(sid)
        for kind in ("events", "comments"):
            await _assert_unarchived_in_stream(streams, s3_store, kind)
    if not store_up:
        await s3_gate.open()
    await streams.end(t_ms=events * 10)

    async def finished() -> bool:
        return await archiver.archive_once(sid)

    await eventually(finished, what="the manifest")
    await assert_archived_exactly_once(s3_store, streams, events + 1, comments)
    assert await _stream_seqs(streams.redis, streams.keys["events"]) == [events + 1]
