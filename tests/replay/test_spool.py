"""The archiver's spool: segments wait on local disk while the store is down, then drain."""

import asyncio
import contextlib
import random
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aioredis

from replay.archiver import Archiver
from replay.keys import archive_lock
from replay.reader import read_manifest
from replay.s3_store import S3ArchiveStore
from replay.spool import Spool
from tests.replay.checks import assert_archived_exactly_once, segment_ranges, spooled_ranges
from tests.replay.session_streams import SessionStreams
from tests.support.polling import eventually
from tests.support.tcp_gate import TcpGate

MakeArchiver = Callable[..., Archiver]
KILL_ROUNDS = 12


async def _finish(archiver: Archiver, session_id: str) -> None:
    async def done() -> bool:
        return await archiver.archive_once(session_id)

    await eventually(done, what=f"the manifest of {session_id}")


async def _spool_until(
    archiver: Archiver, spool_dir: Path, session_id: str, kind: str, last: int
) -> None:
    async def spooled() -> bool:
        await archiver.archive_once(session_id)
        ranges = await spooled_ranges(spool_dir, session_id, kind)
        return bool(ranges) and ranges[-1][1] == last

    await eventually(spooled, what=f"{kind} spooled through {last}")


async def test_outage_spools_segments_unacknowledged_and_drains_them_in_order(
    streams: SessionStreams,
    s3_gate: TcpGate,
    gated_store: S3ArchiveStore,
    s3_store: S3ArchiveStore,
    make_archiver: MakeArchiver,
    tmp_path: Path,
) -> None:
    """During an outage segments go to the spool and stay pending; then they are stored as is."""
    sid = streams.session_id
    spool_dir = tmp_path / "spool"
    archiver = make_archiver(gated_store, spool_dir=spool_dir)
    await streams.pins(5)
    await archiver.archive_once(sid)
    assert await segment_ranges(s3_store, sid, "events") == [(1, 5)]

    await s3_gate.close()
    await streams.pins(12, t_ms=1000)
    await streams.comments(6, t_ms=1000)
    await streams.end(t_ms=2000)
    await _spool_until(archiver, spool_dir, sid, "events", 18)
    await _spool_until(archiver, spool_dir, sid, "comments", 6)

    assert await spooled_ranges(spool_dir, sid, "events") == [(6, 10), (11, 15), (16, 18)]
    assert await spooled_ranges(spool_dir, sid, "comments") == [(1, 5), (6, 6)]
    assert (await streams.pending("events"), await streams.pending("comments")) == (13, 6)
    assert await segment_ranges(s3_store, sid, "events") == [(1, 5)]
    assert await archiver.archive_once(sid) is False

    await s3_gate.open()
    await _finish(archiver, sid)

    assert await segment_ranges(s3_store, sid, "events") == [(1, 5), (6, 10), (11, 15), (16, 18)]
    assert await segment_ranges(s3_store, sid, "comments") == [(1, 5), (6, 6)]
    await assert_archived_exactly_once(s3_store, streams, 18, 6)
    assert await Spool(spool_dir).sessions() == []


async def test_a_restarted_archiver_drains_its_predecessors_spool(
    redis: aioredis.Redis,
    streams: SessionStreams,
    s3_gate: TcpGate,
    gated_store: S3ArchiveStore,
    s3_store: S3ArchiveStore,
    make_archiver: MakeArchiver,
    tmp_path: Path,
) -> None:
    """Segments spooled before a process died are stored as spooled, not read and cut again."""
    sid = streams.session_id
    spool_dir = tmp_path / "spool"
    before = make_archiver(gated_store, spool_dir=spool_dir, node_id="node-a", segment_events=5)
    await streams.pins(2)
    await before.archive_once(sid)
    await s3_gate.close()
    await streams.pins(10, t_ms=1000)
    await streams.end(t_ms=2000)
    await _spool_until(before, spool_dir, sid, "events", 13)
    await redis.delete(archive_lock(sid))  # the process died; its lease ran out

    await s3_gate.open()
    after = make_archiver(gated_store, spool_dir=spool_dir, node_id="node-b", segment_events=7)
    await _finish(after, sid)

    assert await segment_ranges(s3_store, sid, "events") == [(1, 2), (3, 7), (8, 12), (13, 13)]
    await assert_archived_exactly_once(s3_store, streams, 13, 0)


async def test_a_spool_left_by_a_node_that_lost_the_session_is_dropped(
    redis: aioredis.Redis,
    streams: SessionStreams,
    s3_gate: TcpGate,
    gated_store: S3ArchiveStore,
    s3_store: S3ArchiveStore,
    make_archiver: MakeArchiver,
    tmp_path: Path,
) -> None:
    """A spool that another node archived past is discarded and its entries re-read, once each."""
    sid = streams.session_id
    spool_dir = tmp_path / "spool-a"
    node_a = make_archiver(gated_store, spool_dir=spool_dir, node_id="node-a", segment_events=5)
    await streams.pins(1)
    await node_a.archive_once(sid)
    await s3_gate.close()
    await streams.pins(10, t_ms=1000)
    await _spool_until(node_a, spool_dir, sid, "events", 11)
    assert await spooled_ranges(spool_dir, sid, "events") == [(2, 6), (7, 11)]
    await redis.delete(archive_lock(sid))  # node-a is cut off; its lease runs out

    await s3_gate.open()
    node_b = make_archiver(
        gated_store,
        spool_dir=tmp_path / "spool-b",
        node_id="node-b",
        segment_events=7,
        segment_ms=600_000,
    )
    await node_b.archive_once(sid)  # claims 2..11, stores 2..8, then stops with 9..11 read
    assert await segment_ranges(s3_store, sid, "events") == [(1, 1), (2, 8)]
    await redis.delete(archive_lock(sid))  # node-b dies too

    node_a_again = make_archiver(
        gated_store, spool_dir=spool_dir, node_id="node-a", segment_events=5, segment_ms=600_000
    )
    await node_a_again.archive_once(sid)
    assert await spooled_ranges(spool_dir, sid, "events") == []
    await streams.end(t_ms=3000)
    await _finish(node_a_again, sid)

    assert await segment_ranges(s3_store, sid, "events") == [(1, 1), (2, 8), (9, 12)]
    await assert_archived_exactly_once(s3_store, streams, 12, 0)


async def test_killed_spooling_archivers_leave_no_gap_and_no_duplicate(
    redis: aioredis.Redis,
    streams: SessionStreams,
    s3_gate: TcpGate,
    gated_store: S3ArchiveStore,
    s3_store: S3ArchiveStore,
    make_archiver: MakeArchiver,
    tmp_path: Path,
) -> None:
    """Archivers killed at random points of outages, spools and drains lose and repeat nothing."""
    rng = random.Random(20251122)
    sid = streams.session_id
    spool_dir = tmp_path / "spool"
    events = comments = t_ms = 0
    spooled_rounds = 0
    for round_ in range(KILL_ROUNDS):
        await redis.delete(archive_lock(sid))  # the previous node died; its lease ran out
        archiver = make_archiver(
            gated_store, spool_dir=spool_dir, node_id=f"node-{round_ % 3}", segment_events=7
        )
        task = asyncio.create_task(_archive_forever(archiver, sid))
        new_events, new_comments = rng.randint(0, 25), rng.randint(0, 25)
        await streams.pins(new_events, t_ms=t_ms)
        await streams.comments(new_comments, t_ms=t_ms + 5)
        events, comments, t_ms = events + new_events, comments + new_comments, t_ms + 1000
        staged = round_ % 2 == 0
        if staged:
            # Half the rounds make sure the outage meets an opened session with segments to
            # spool, so spooling, restarts on a spool and draining are always exercised.
            await _stored_through(s3_store, sid, events=events, comments=comments)
        else:
            # Random wall-clock points, not synchronisation: where the outage starts (and,
            # below, where the archiver dies) is what this test varies.
            await asyncio.sleep(rng.uniform(0, 0.2))
        await s3_gate.close()
        during = rng.randint(1 if staged else 0, 12)
        await streams.pins(during, t_ms=t_ms)
        events += during
        if staged:
            await _spooled(spool_dir, sid)
        await asyncio.sleep(rng.uniform(0, 0.3))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        spooled_rounds += bool(await spooled_ranges(spool_dir, sid, "events"))
        await s3_gate.open()
    assert spooled_rounds >= KILL_ROUNDS // 2
    await streams.end(t_ms)
    await redis.delete(archive_lock(sid))

    await _finish(make_archiver(gated_store, spool_dir=spool_dir, node_id="node-last"), sid)

    assert await read_manifest(s3_store, sid) is not None
    await assert_archived_exactly_once(s3_store, streams, events + 1, comments)


async def _archive_forever(archiver: Archiver, session_id: str) -> None:
    while True:
        await archiver.archive_once(session_id)
        await asyncio.sleep(0.005)  # a poll cadence, as `Archiver.run` has


async def _stored_through(
    store: S3ArchiveStore, session_id: str, *, events: int, comments: int
) -> None:
    async def caught_up() -> bool:
        ranges = [await segment_ranges(store, session_id, k) for k in ("events", "comments")]
        lasts = [kind[-1][1] if kind else 0 for kind in ranges]
        return lasts == [events, comments]

    await eventually(caught_up, what=f"events {events} and comments {comments} stored")


async def _spooled(spool_dir: Path, session_id: str) -> None:
    async def some() -> bool:
        return bool(await spooled_ranges(spool_dir, session_id, "events"))

    await eventually(some, what="a spooled segment")
