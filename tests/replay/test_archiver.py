"""The archiver on a real Redis and a local store: segments, manifest, tracking, failures."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from replay import segments
from replay.archiver import Archiver, track
from replay.consumer import StreamConsumer
from replay.keys import ARCHIVE_SESSIONS, archive_lock
from replay.local_store import LocalArchiveStore
from replay.reader import read_manifest, read_replay, verify
from replay.store import ArchiveStore
from tests.replay.session_streams import SessionStreams, stream_keys
from tests.support.polling import eventually
from tests.support.units import UNIT_S

MakeArchiver = Callable[..., Archiver]


async def _segment_ranges(store: ArchiveStore, session_id: str, kind: str) -> list[tuple[int, int]]:
    names = await store.list(segments.kind_prefix(session_id, kind))
    return [(parsed[1], parsed[2]) for parsed in map(segments.parse_name, names) if parsed]


async def _finish(archiver: Archiver, session_id: str) -> None:
    async def done() -> bool:
        return await archiver.archive_once(session_id)

    await eventually(done, what=f"the manifest of {session_id}")


async def test_archives_both_streams_into_segments_and_a_manifest(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """Entries become contiguous per-kind segments of at most segment_events, then a manifest."""
    sid = streams.session_id
    await track(redis, sid)
    await streams.pins(11, step_ms=100)
    await streams.comments(7, t_ms=50, step_ms=100)
    await streams.end(t_ms=2000)
    archiver = make_archiver(local_store, segment_events=5, segment_ms=600_000)

    await _finish(archiver, sid)

    assert await _segment_ranges(local_store, sid, "events") == [(1, 5), (6, 10), (11, 12)]
    assert await _segment_ranges(local_store, sid, "comments") == [(1, 5), (6, 7)]
    manifest = await read_manifest(local_store, sid)
    assert manifest is not None
    assert manifest.ended is True
    assert manifest.counts == {"events": 12, "comments": 7}
    assert (manifest.from_ms, manifest.to_ms) == (0, 2000)
    first = manifest.segments[0]
    stored = segments.decode(first.name, await local_store.get(first.name), first.sha256)
    raw: Any = await redis.xrange(stream_keys(sid)[first.kind], "1-0", f"{first.last}-0")
    assert stored == [fields[b"e"] for _, fields in raw]
    assert not await redis.sismember(ARCHIVE_SESSIONS, sid)
    assert not await redis.exists(archive_lock(sid))
    assert (await streams.pending("events"), await streams.pending("comments")) == (0, 0)
    assert await verify(local_store, sid) == []


async def test_no_manifest_while_the_session_is_live(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """Before the ended event segments are written, but no manifest; the session stays tracked."""
    sid = streams.session_id
    await track(redis, sid)
    await streams.pins(3)
    await streams.comments(2)
    archiver = make_archiver(local_store)

    assert await archiver.archive_once(sid) is False

    assert await _segment_ranges(local_store, sid, "events") == [(1, 3)]
    assert await _segment_ranges(local_store, sid, "comments") == [(1, 2)]
    assert await read_manifest(local_store, sid) is None
    assert await read_replay(local_store, sid) is None
    assert await redis.sismember(ARCHIVE_SESSIONS, sid)


async def test_manifest_waits_for_every_counted_entry(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """A number handed out by a counter but not yet in its stream holds the manifest back."""
    sid = streams.session_id
    await streams.comment(10)
    await redis.incr(streams.counters["comments"])  # comment 2 is on its way to the stream
    await streams.end(t_ms=20)
    archiver = make_archiver(local_store)

    assert await archiver.archive_once(sid) is False
    assert await read_manifest(local_store, sid) is None

    comment = {"type": "comment", "id": "2", "user": "u2", "text": "late", "ts": 1, "t_ms": 15}
    await redis.xadd(streams.keys["comments"], {"e": orjson.dumps(comment)}, id="2-0")
    assert await archiver.archive_once(sid) is True
    manifest = await read_manifest(local_store, sid)
    assert manifest is not None
    assert manifest.counts == {"events": 1, "comments": 2}


async def test_open_segment_waits_for_segment_ms(
    streams: SessionStreams, local_store: LocalArchiveStore, make_archiver: MakeArchiver
) -> None:
    """A short run of entries stays pending until it is segment_ms old (or full)."""
    sid = streams.session_id
    await streams.pins(3)
    patient = make_archiver(local_store, segment_ms=600_000)

    assert await patient.archive_once(sid) is False
    assert await _segment_ranges(local_store, sid, "events") == []
    assert await streams.pending("events") == 3

    impatient = make_archiver(local_store, segment_ms=0)
    await impatient.archive_once(sid)
    assert await _segment_ranges(local_store, sid, "events") == [(1, 3)]
    assert await streams.pending("events") == 0


async def test_restart_skips_entries_a_dead_archiver_stored_but_never_acked(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """Entries pending on a dead consumer but already in the store are acked, not re-archived."""
    sid = streams.session_id
    await streams.pins(8)
    dead = StreamConsumer(redis, streams.keys["events"], group="archiver", consumer="node-dead")
    await dead.ensure_group()
    entries = await dead.read_new(8)
    segment, data = segments.encode(sid, "events", entries[:5])
    await local_store.put_once(segment.name, data)  # ...and died before XACK
    archiver = make_archiver(local_store, node_id="node-b", segment_events=5)

    await archiver.archive_once(sid)

    assert await _segment_ranges(local_store, sid, "events") == [(1, 5), (6, 8)]
    assert await streams.pending("events") == 0


async def test_a_hole_in_the_stream_ends_a_segment_and_is_reported(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """An entry missing from the stream for good splits segments around it; verify reports it."""
    sid = streams.session_id
    for seq in [1, 2, 3, 5, 6]:
        kind = "ended" if seq == 6 else "pin"
        event = {"type": kind, "seq": seq, "ts": 1, "t_ms": seq}
        await redis.xadd(streams.keys["events"], {"e": orjson.dumps(event)}, id=f"{seq}-0")
    await redis.set(streams.counters["events"], 6)
    archiver = make_archiver(local_store, segment_events=10)

    await _finish(archiver, sid)

    assert await _segment_ranges(local_store, sid, "events") == [(1, 3), (5, 6)]
    assert await verify(local_store, sid) == ["events gap: 4..4 missing"]
    manifest = await read_manifest(local_store, sid)
    assert manifest is not None
    assert manifest.counts == {"comments": 0, "events": 5}


async def test_run_archives_every_tracked_session_despite_a_broken_one(
    redis: aioredis.Redis,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
    unique_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """run() finishes healthy sessions while another keeps failing, and stop() ends it cleanly."""
    good = [SessionStreams(redis, f"good{index}{unique_id}") for index in range(2)]
    broken = f"broken{unique_id}"
    for session in good:
        await track(redis, session.session_id)
        await session.pins(6)
        await session.end(t_ms=100)
    await track(redis, broken)

    def streams_for(session_id: str) -> dict[str, str]:
        keys = stream_keys(session_id)
        return {"comments": keys["comments"]} if session_id == broken else keys

    archiver = make_archiver(local_store, streams_for=streams_for)
    running = asyncio.create_task(archiver.run())
    try:

        async def all_good_archived() -> bool:
            manifests = [await read_manifest(local_store, s.session_id) for s in good]
            return all(manifest is not None for manifest in manifests)

        await eventually(all_good_archived, what="the healthy sessions' manifests")
        archiver.stop()
        await asyncio.wait_for(running, timeout=5 * UNIT_S)
        assert await redis.sismember(ARCHIVE_SESSIONS, broken)
        failures = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert any(broken in record.getMessage() for record in failures)
        assert not await redis.exists(archive_lock(broken))
        for session in good:
            assert not await redis.sismember(ARCHIVE_SESSIONS, session.session_id)
    finally:
        running.cancel()
        await redis.srem(ARCHIVE_SESSIONS, broken, *(s.session_id for s in good))


async def test_cancelled_run_releases_its_leases(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """Cancelling the run() task gives the session leases up at once for other nodes."""
    sid = streams.session_id
    await track(redis, sid)
    await streams.pins(2)
    archiver = make_archiver(local_store, segment_ms=600_000)
    running = asyncio.create_task(archiver.run())

    async def leased() -> bool:
        return await redis.get(archive_lock(sid)) == b"node-a"

    await eventually(leased, what="the lease")
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert not await redis.exists(archive_lock(sid))
