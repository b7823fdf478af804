"""Manifests: deterministic bytes, parsing, and collection from what the store holds."""

import orjson

from replay import segments
from replay.local_store import LocalArchiveStore
from replay.manifest import Manifest, collect_manifest
from replay.segments import Entry


async def _put(store: LocalArchiveStore, kind: str, first: int, last: int) -> None:
    entries = [
        Entry(seq, orjson.dumps({"seq": seq, "t_ms": seq * 10})) for seq in range(first, last + 1)
    ]
    _, data = segments.encode("s1", kind, entries)
    await store.put_once(segments.segment_name("s1", kind, first, last), data)


async def test_collect_lists_every_stored_segment_with_counts_per_kind(
    local_store: LocalArchiveStore,
) -> None:
    """The manifest lists the stored segments in order, counts per kind (0 for none), t_ms span."""
    await _put(local_store, "events", 6, 7)
    await _put(local_store, "events", 1, 5)

    manifest = await collect_manifest(local_store, "s1", kinds=["events", "comments"])

    assert [(s.kind, s.first, s.last) for s in manifest.segments] == [
        ("events", 1, 5),
        ("events", 6, 7),
    ]
    assert manifest.counts == {"comments": 0, "events": 7}
    assert (manifest.from_ms, manifest.to_ms) == (10, 70)


async def test_collect_leaves_out_segments_another_one_covers(
    local_store: LocalArchiveStore,
) -> None:
    """A segment whose range another segment already covers is not listed twice."""
    await _put(local_store, "events", 1, 5)
    await _put(local_store, "events", 1, 3)
    await _put(local_store, "events", 6, 6)

    manifest = await collect_manifest(local_store, "s1", kinds=["events"])

    assert [(s.first, s.last) for s in manifest.segments] == [(1, 5), (6, 6)]


async def test_manifest_bytes_are_deterministic_and_parse_back(
    local_store: LocalArchiveStore,
) -> None:
    """Encoding the same manifest twice gives the same bytes, which parse to an equal manifest."""
    await _put(local_store, "comments", 1, 2)
    manifest = await collect_manifest(local_store, "s1", kinds=["events", "comments"])
    again = await collect_manifest(local_store, "s1", kinds=["comments", "events"])

    assert manifest.to_bytes() == again.to_bytes()
    assert Manifest.from_bytes("s1", manifest.to_bytes()) == manifest
    assert orjson.loads(manifest.to_bytes())["ended"] is True
