"""Assertions shared by the archive tests: what a store holds, and exactly-once archiving."""

from pathlib import Path

from replay import segments
from replay.reader import read_replay, verify
from replay.spool import Spool
from replay.store import ArchiveStore
from tests.replay.session_streams import SessionStreams


async def segment_ranges(store: ArchiveStore, session_id: str, kind: str) -> list[tuple[int, int]]:
    """``(first, last)`` of each stored segment of one kind, in name order."""
    names = await store.list(segments.kind_prefix(session_id, kind))
    return [(parsed[1], parsed[2]) for parsed in map(segments.parse_name, names) if parsed]


async def spooled_ranges(spool_dir: Path, session_id: str, kind: str) -> list[tuple[int, int]]:
    """``(first, last)`` of each spooled segment of one kind, in ``first`` order."""
    names = await Spool(spool_dir).list(session_id, kind)
    return [(parsed[1], parsed[2]) for parsed in map(segments.parse_name, names) if parsed]


async def assert_archived_exactly_once(
    store: ArchiveStore, streams: SessionStreams, events: int, comments: int
) -> None:
    """The replay holds seqs 1..events and comments 1..comments once each; nothing is pending."""
    replay = await read_replay(store, streams.session_id)
    assert replay is not None
    assert [e["seq"] for e in replay if e["type"] != "comment"] == list(range(1, events + 1))
    archived_comments = [int(e["id"]) for e in replay if e["type"] == "comment"]
    assert archived_comments == list(range(1, comments + 1))
    assert await verify(store, streams.session_id) == []
    assert (await streams.pending("events"), await streams.pending("comments")) == (0, 0)
