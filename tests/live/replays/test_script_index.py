"""The replay index: the product script at any instant, from checkpoints, equals a plain fold
over every archived event; it keeps checkpoints and deleted comment ids, not events."""

import random
from pathlib import Path
from typing import Any

import orjson

from live.replays.index import CHECKPOINT_SEGMENTS, Indexes, build, decode, encode, index_name
from live.replays.product_script import Script
from replay import segments
from replay.local_store import LocalArchiveStore
from replay.manifest import Manifest, manifest_name
from replay.segments import Entry

SID = "ses_index"
PRODUCTS = ["p1", "p2", "p3"]


def _script(rng: random.Random, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    t_ms, version = 0, 0
    for seq in range(1, count + 1):
        t_ms += rng.choice([0, 3, 10])
        kind = rng.choice(["pin", "unpin", "price", "stock", "stock", "purchase", "deleted"])
        event: dict[str, Any] = {"seq": seq, "t_ms": t_ms}
        product = rng.choice(PRODUCTS)
        if kind == "pin":
            event.update(type="pin", product_id=product)
        elif kind == "unpin":
            event.update(type="unpin", product_id=None)
        elif kind == "price":
            event.update(type="price", product_id=product, price_cents=rng.randrange(100, 999))
        elif kind == "stock":
            version += 1
            # Concurrent orders store their levels out of version order now and then.
            stored = version - rng.choice([0, 0, 2])
            event.update(type="stock", levels={product: rng.randrange(0, 9)}, version=stored)
        elif kind == "purchase":
            event.update(type="purchase", product_id=product, qty=1)
        else:
            event.update(type="comment_deleted", comment_id=str(seq))
        events.append({"type": event.pop("type"), **event})
    return events


def _plain_fold(events: list[dict[str, Any]], t_ms: int) -> Script:
    script = Script()
    for event in events:
        if event["t_ms"] <= t_ms:
            script.apply(event)
    return script


async def _archive(store: LocalArchiveStore, events: list[dict[str, Any]]) -> Manifest:
    written = []
    for start in range(0, len(events), 10):
        chunk = events[start : start + 10]
        entries = [Entry(e["seq"], orjson.dumps(e)) for e in chunk]
        segment, data = segments.encode(SID, "events", entries)
        await store.put_once(segment.name, data)
        written.append(segment)
    manifest = Manifest.build(SID, written, kinds=["events", "comments"])
    await store.put_once(manifest_name(SID), manifest.to_bytes())
    return manifest


class CountingStore(LocalArchiveStore):
    """The real local store, counting the segments read."""

    reads = 0

    async def get(self, name: str) -> bytes:
        self.reads += 1
        return await super().get(name)


async def test_state_at_any_instant_is_the_plain_fold(tmp_path: Path) -> None:
    """For instants across the session, the index answers what folding everything up to the
    instant gives, reading only the segments after the nearest checkpoint."""
    rng = random.Random(7)
    events = _script(rng, 400)
    store = CountingStore(tmp_path / "archive")
    manifest = await _archive(store, events)
    index = await build(store, manifest)
    assert len(index.checkpoints) == len(index.durable) // CHECKPOINT_SEGMENTS
    deleted = {e["comment_id"] for e in events if e["type"] == "comment_deleted"}
    assert index.deleted_comments == deleted
    end = events[-1]["t_ms"]
    for t_ms in [0, 1, end // 3, end // 2, end - 1, end, *rng.sample(range(end), 20)]:
        store.reads = 0
        assert await index.state_at(store, t_ms) == _plain_fold(events, t_ms)
        assert store.reads <= CHECKPOINT_SEGMENTS + 2


async def test_indexes_build_once_per_session(tmp_path: Path) -> None:
    """A second replay of the same session uses the index built for the first."""
    store = CountingStore(tmp_path / "archive")
    await _archive(store, _script(random.Random(8), 50))
    indexes = Indexes(capacity=2)
    first = await indexes.get(store, SID)
    reads = store.reads
    assert first is not None
    assert await indexes.get(store, SID) is first
    assert store.reads == reads
    assert await indexes.get(store, "ses_without_manifest") is None


async def test_another_process_reads_the_stored_index(tmp_path: Path) -> None:
    """The first build stores the index beside the archive; a fresh process (a new `Indexes`)
    reads the manifest and that one object, and gets the same answers; an index stored for
    another manifest is ignored and built again."""
    store = CountingStore(tmp_path / "archive")
    events = _script(random.Random(9), 300)
    manifest = await _archive(store, events)
    first = await Indexes().get(store, SID)
    assert first is not None
    assert await store.exists(index_name(SID))
    store.reads = 0
    again = await Indexes().get(store, SID)
    assert store.reads == 2
    assert again is not None
    assert again.checkpoints == first.checkpoints
    assert again.reach == first.reach
    assert again.deleted_comments == first.deleted_comments
    other = Manifest.build(SID, manifest.segments[:-1], kinds=["events", "comments"])
    assert decode(other, encode(first)) is None
    assert decode(manifest, b"{not json") is None
