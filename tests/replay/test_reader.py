"""Reading archives back: replay order and window, checksums, and `verify`'s report."""

from typing import Any

import orjson
import pytest

from replay import segments
from replay.errors import ArchiveCorrupt
from replay.local_store import LocalArchiveStore
from replay.manifest import Manifest, manifest_name
from replay.reader import read_manifest, read_replay, verify
from replay.segments import Entry, Segment

SID = "s1"


def _pin(seq: int, t_ms: int) -> dict[str, Any]:
    return {"type": "pin", "seq": seq, "product_id": f"p{seq}", "ts": t_ms, "t_ms": t_ms}


def _comment(number: int, t_ms: int) -> dict[str, Any]:
    return {"type": "comment", "id": str(number), "user": "u", "text": "hi", "ts": 0, "t_ms": t_ms}


async def _put_segment(
    store: LocalArchiveStore, kind: str, first: int, events: list[dict[str, Any]]
) -> Segment:
    entries = [Entry(first + index, orjson.dumps(e)) for index, e in enumerate(events)]
    segment, data = segments.encode(SID, kind, entries)
    await store.put_once(segment.name, data)
    return segment


async def _archive(
    store: LocalArchiveStore,
    events: list[dict[str, Any]],
    comments: list[dict[str, Any]],
    *,
    per_segment: int = 2,
) -> Manifest:
    written = []
    for kind, items in (("events", events), ("comments", comments)):
        for start in range(0, len(items), per_segment):
            chunk = items[start : start + per_segment]
            written.append(await _put_segment(store, kind, start + 1, chunk))
    manifest = Manifest.build(SID, written)
    await store.put_once(manifest_name(SID), manifest.to_bytes())
    return manifest


async def test_replay_is_none_until_the_manifest_exists(local_store: LocalArchiveStore) -> None:
    """Segments without a manifest are an archive in progress: the reader answers None."""
    await _put_segment(local_store, "events", 1, [_pin(1, 0)])
    assert await read_manifest(local_store, SID) is None
    assert await read_replay(local_store, SID) is None


async def test_replay_keeps_seq_order_and_merges_comments_by_t_ms(
    local_store: LocalArchiveStore,
) -> None:
    """Events come in seq order; comments slot in by t_ms, after events of the same t_ms."""
    events = [_pin(1, 0), _pin(2, 100), _pin(3, 100), _pin(4, 300), _pin(5, 300)]
    comments = [_comment(1, 50), _comment(2, 100), _comment(3, 100), _comment(4, 400)]
    await _archive(local_store, events, comments)

    replay = await read_replay(local_store, SID)

    assert replay is not None
    assert [(e["type"], e.get("seq", e.get("id"))) for e in replay] == [
        ("pin", 1),
        ("comment", "1"),
        ("pin", 2),
        ("pin", 3),
        ("comment", "2"),
        ("comment", "3"),
        ("pin", 4),
        ("pin", 5),
        ("comment", "4"),
    ]
    assert replay[0] == events[0]


async def test_replay_window_is_inclusive_and_skips_segments_outside_it(
    local_store: LocalArchiveStore,
) -> None:
    """Only from_ms <= t_ms <= to_ms is returned; segments wholly outside are never read."""
    events = [_pin(seq, 100 * seq) for seq in range(1, 9)]
    manifest = await _archive(local_store, events, [_comment(1, 250), _comment(2, 650)])
    outside = next(s for s in manifest.segments if s.kind == "events" and s.first == 7)
    (local_store.root / outside.name).write_bytes(b"garbage")

    replay = await read_replay(local_store, SID, from_ms=200, to_ms=400)

    assert replay is not None
    assert [e["t_ms"] for e in replay] == [200, 250, 300, 400]
    with pytest.raises(ArchiveCorrupt):
        await read_replay(local_store, SID, from_ms=200)


async def test_flipped_byte_in_a_segment_is_detected(local_store: LocalArchiveStore) -> None:
    """A segment whose bytes changed on disk fails replay (ArchiveCorrupt) and shows in verify."""
    manifest = await _archive(local_store, [_pin(1, 0), _pin(2, 10)], [_comment(1, 5)])
    victim = manifest.segments[0]
    path = local_store.root / victim.name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(ArchiveCorrupt) as raised:
        await read_replay(local_store, SID)
    assert raised.value.name == victim.name
    assert await verify(local_store, SID) == [f"{victim.name} is corrupt: sha256 mismatch"]


async def test_verify_is_empty_for_an_intact_archive(local_store: LocalArchiveStore) -> None:
    """A complete, untouched archive has no problems."""
    await _archive(local_store, [_pin(seq, seq) for seq in range(1, 6)], [_comment(1, 3)])
    assert await verify(local_store, SID) == []


async def test_verify_reports_gaps_duplicates_and_strays(local_store: LocalArchiveStore) -> None:
    """verify names missing ranges, ranges stored twice and segments the manifest omits."""
    listed = [
        await _put_segment(local_store, "events", 1, [_pin(1, 0), _pin(2, 0), _pin(3, 0)]),
        await _put_segment(local_store, "events", 3, [_pin(3, 0), _pin(4, 0)]),
        await _put_segment(local_store, "events", 7, [_pin(7, 0)]),
    ]
    stray = await _put_segment(local_store, "comments", 1, [_comment(1, 0)])
    manifest = Manifest.build(SID, listed)
    await local_store.put_once(manifest_name(SID), manifest.to_bytes())

    assert await verify(local_store, SID) == [
        f"{stray.name} is stored but not in the manifest",
        "events duplicate: 3..3 stored twice",
        "events gap: 5..6 missing",
    ]


async def test_verify_checks_event_seq_inside_segments(local_store: LocalArchiveStore) -> None:
    """An event line whose seq disagrees with its position in the segment is reported."""
    segment = await _put_segment(local_store, "events", 1, [_pin(1, 0), _pin(5, 0)])
    await local_store.put_once(manifest_name(SID), Manifest.build(SID, [segment]).to_bytes())
    assert await verify(local_store, SID) == [f"{segment.name} line 2 has seq 5, expected 2"]


async def test_malformed_manifest_is_corrupt(local_store: LocalArchiveStore) -> None:
    """A manifest that is not valid JSON of this session raises ArchiveCorrupt; verify says so."""
    await local_store.put_once(manifest_name(SID), b"{not json")
    with pytest.raises(ArchiveCorrupt):
        await read_manifest(local_store, SID)
    problems = await verify(local_store, SID)
    assert len(problems) == 1
    assert "malformed manifest" in problems[0]
