"""Streaming a window segment by segment gives exactly the reader's replay, lazily."""

import random
from typing import Any

import orjson
import pytest

from replay import segments, window
from replay.errors import ArchiveCorrupt
from replay.local_store import LocalArchiveStore
from replay.manifest import Manifest, manifest_name
from replay.reader import read_replay
from replay.segments import Entry

SID = "w1"


async def _archive(store: LocalArchiveStore, *, seed: int, per_segment: int = 7) -> Manifest:
    """Durable events whose t_ms are not always sorted (as stored under concurrency) and
    comments in between, in many segments."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    t_ms = 0
    for seq in range(1, 120):
        t_ms += rng.choice([0, 0, 5, 20])
        jitter = rng.choice([0, 0, 0, -7])  # an event published late carries an earlier t_ms
        events.append({"type": "stock", "seq": seq, "t_ms": max(0, t_ms + jitter)})
    stamps = sorted(rng.randrange(0, t_ms + 1) for _ in range(90))
    comments = [{"type": "comment", "id": str(n), "t_ms": t} for n, t in enumerate(stamps)]
    written = []
    for kind, items in (("events", events), ("comments", comments)):
        for start in range(0, len(items), per_segment):
            chunk = items[start : start + per_segment]
            entries = [Entry(start + 1 + i, orjson.dumps(e)) for i, e in enumerate(chunk)]
            segment, data = segments.encode(SID, kind, entries)
            await store.put_once(segment.name, data)
            written.append(segment)
    manifest = Manifest.build(SID, written)
    await store.put_once(manifest_name(SID), manifest.to_bytes())
    return manifest


async def _streamed(store: LocalArchiveStore, manifest: Manifest, a: int, b: int) -> list[Any]:
    return [e async for e in window.stream_window(store, manifest, from_ms=a, to_ms=b)]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_streamed_window_is_the_readers_replay(
    local_store: LocalArchiveStore, seed: int
) -> None:
    """For many windows, the stream yields the reader's events in the reader's order."""
    manifest = await _archive(local_store, seed=seed)
    rng = random.Random(seed)
    bounds = [(0, manifest.to_ms), (0, 0), (manifest.to_ms, manifest.to_ms)]
    for _ in range(12):
        a, b = sorted(rng.sample(range(manifest.to_ms + 1), 2))
        bounds.append((a, b))
    for a, b in bounds:
        expected = await read_replay(local_store, SID, from_ms=a, to_ms=b)
        assert await _streamed(local_store, manifest, a, b) == expected


class CountingStore(LocalArchiveStore):
    """The real local store, counting the segments read."""

    reads = 0

    async def get(self, name: str) -> bytes:
        self.reads += 1
        return await super().get(name)


async def test_the_stream_reads_segments_as_it_goes(tmp_path: Any) -> None:
    """Taking the first event reads at most two segments of each kind, not the window."""
    store = CountingStore(tmp_path / "archive")
    manifest = await _archive(store, seed=4, per_segment=5)
    replay = await read_replay(store, SID, from_ms=0, to_ms=manifest.to_ms)
    assert replay is not None
    store.reads = 0
    stream = window.stream_window(store, manifest, from_ms=0, to_ms=manifest.to_ms)
    assert await anext(stream) == replay[0]
    await stream.aclose()
    assert store.reads <= 4
    assert len(manifest.segments) > 20


async def test_a_corrupt_segment_fails_when_the_stream_reaches_it(
    local_store: LocalArchiveStore,
) -> None:
    """A segment whose bytes do not match the manifest raises `ArchiveCorrupt`."""
    manifest = await _archive(local_store, seed=5)
    last = next(s for s in reversed(manifest.segments) if s.kind == "events")
    path = local_store.root / last.name
    path.write_bytes(segments.encode(SID, "events", [Entry(last.first, b"{}")])[1])
    with pytest.raises(ArchiveCorrupt):
        await _streamed(local_store, manifest, 0, manifest.to_ms)
