"""The archiver under faults: killed at random points, replaced by another node, store outages."""

import asyncio
import contextlib
import random
from collections.abc import Callable

import redis.asyncio as aioredis

from replay import segments
from replay.archiver import Archiver, track
from replay.keys import archive_lock
from replay.local_store import LocalArchiveStore
from replay.reader import read_replay, verify
from replay.s3_store import S3ArchiveStore
from replay.store import ArchiveStore
from tests.replay.session_streams import SessionStreams
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.s3 import S3Server
from tests.support.tcp_gate import TcpGate

MakeArchiver = Callable[..., Archiver]
KILL_ROUNDS = 15


async def _finish(archiver: Archiver, session_id: str, *, timeout_s: float = 10.0) -> None:
    async def done() -> bool:
        return await archiver.archive_once(session_id)

    await eventually(done, timeout_s=timeout_s, what=f"the manifest of {session_id}")


async def _archive_forever(archiver: Archiver, session_id: str) -> None:
    while True:
        await archiver.archive_once(session_id)
        await asyncio.sleep(0)


async def _assert_archived_exactly_once(
    store: ArchiveStore, streams: SessionStreams, events: int, comments: int
) -> None:
    replay = await read_replay(store, streams.session_id)
    assert replay is not None
    assert [e["seq"] for e in replay if e["type"] != "comment"] == list(range(1, events + 1))
    archived_comments = [int(e["id"]) for e in replay if e["type"] == "comment"]
    assert archived_comments == list(range(1, comments + 1))
    assert await verify(store, streams.session_id) == []
    assert (await streams.pending("events"), await streams.pending("comments")) == (0, 0)


async def test_killed_archivers_leave_no_gap_and_no_duplicate(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """Archivers cancelled at random points and replaced still archive every entry exactly once."""
    rng = random.Random(20251122)
    sid = streams.session_id
    await track(redis, sid)
    events = comments = t_ms = 0
    for round_ in range(KILL_ROUNDS):
        new_events, new_comments = rng.randint(0, 25), rng.randint(0, 25)
        await streams.pins(new_events, t_ms=t_ms)
        await streams.comments(new_comments, t_ms=t_ms + 5)
        events, comments, t_ms = events + new_events, comments + new_comments, t_ms + 1000
        if round_ % 2:
            # The previous node died; its lease ran out. Its pending entries are for the taking.
            await redis.delete(archive_lock(sid))
        archiver = make_archiver(local_store, node_id=f"node-{round_ % 3}", segment_events=7)
        task = asyncio.create_task(_archive_forever(archiver, sid))
        # Kill it after a random stretch of real time: event-loop turns alone are no measure of
        # progress, since every step waits on Redis or the disk.
        await asyncio.sleep(rng.uniform(0, 0.04))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await local_store.list(f"sessions/{sid}/"), "the killed archivers never wrote"
    await streams.end(t_ms)
    await redis.delete(archive_lock(sid))

    await _finish(make_archiver(local_store, node_id="node-last", segment_events=7), sid)

    await _assert_archived_exactly_once(local_store, streams, events + 1, comments)


async def test_another_node_takes_over_pending_entries_when_the_lease_expires(
    redis: aioredis.Redis,
    streams: SessionStreams,
    local_store: LocalArchiveStore,
    make_archiver: MakeArchiver,
) -> None:
    """Entries a dead node read but never stored are claimed by the next lease holder."""
    sid = streams.session_id
    await streams.pins(10)
    await streams.comments(4)
    dead = make_archiver(
        local_store, node_id="node-a", lease_ms=300, segment_events=50, segment_ms=600_000
    )
    assert await dead.archive_once(sid) is False
    # Read, not stored: the node "dies" holding them.
    assert (await streams.pending("events"), await streams.pending("comments")) == (10, 4)
    await streams.end(t_ms=500)
    successor = make_archiver(local_store, node_id="node-b", lease_ms=300)

    assert await successor.archive_once(sid) is False  # the lease is still node-a's
    assert await local_store.list(f"sessions/{sid}/") == []

    await _finish(successor, sid)
    await _assert_archived_exactly_once(local_store, streams, 11, 4)


async def test_store_outage_delays_the_archive_and_loses_nothing(
    redis: aioredis.Redis,
    streams: SessionStreams,
    s3_server: S3Server,
    s3_bucket: str,
    make_archiver: MakeArchiver,
) -> None:
    """While S3 is unreachable entries stay pending; once it is back every entry is archived."""
    sid = streams.session_id
    gate = TcpGate(s3_server.host, s3_server.port, free_port())
    await gate.open()
    store = S3ArchiveStore(
        s3_bucket,
        "archive",
        endpoint_url=f"http://127.0.0.1:{gate.port}",
        max_attempts=1,
        connect_timeout_s=1,
        read_timeout_s=2,
    )
    try:
        archiver = make_archiver(store)
        await streams.pins(10)

        async def both_segments_stored() -> bool:
            await archiver.archive_once(sid)
            return len(await store.list(segments.kind_prefix(sid, "events"))) == 2

        await eventually(both_segments_stored, what="the first two segments")

        await gate.close()
        await streams.pins(7, t_ms=1000)
        await streams.comments(3, t_ms=1000)
        await streams.end(t_ms=2000)
        assert await archiver.archive_once(sid) is False
        assert await streams.pending("events") > 0  # read, not acknowledged, not lost

        await gate.open()
        await _finish(archiver, sid)
        await _assert_archived_exactly_once(store, streams, 18, 3)
    finally:
        await store.aclose()
        await gate.close()
