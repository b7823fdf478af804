"""Streaming a time window of an ended session's archive, one segment at a time.

Contract: `stream_window` yields the same events, in the same order, as
`replay.reader.read_replay` gives for the window (durable events in ``seq`` order, the other
kinds merged in by ``t_ms`` after durable events of equal ``t_ms``; then filtered to
``from_ms <= t_ms <= to_ms``), but holds at most two decoded segments per kind in memory (the
one being yielded and the next one, fetched ahead). Every segment is checked against the
manifest's sha256; a corrupt or missing one raises `ArchiveError` when the stream reaches it.
"""

import asyncio
import heapq
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import orjson

from replay import segments
from replay.manifest import Manifest
from replay.segments import DURABLE_KIND, Segment
from replay.store import ArchiveStore

logger = logging.getLogger(__name__)


def overlapping(manifest: Manifest, kind: str, from_ms: int, to_ms: int) -> list[Segment]:
    """The segments of ``kind`` that may hold events of the window, in stream order."""
    return [
        segment
        for segment in manifest.segments
        if segment.kind == kind and segment.to_ms >= from_ms and segment.from_ms <= to_ms
    ]


def kinds_of(manifest: Manifest) -> list[str]:
    """The manifest's kinds, durable first (the merge order at equal ``t_ms``)."""
    others = sorted({segment.kind for segment in manifest.segments} - {DURABLE_KIND})
    return [DURABLE_KIND, *others]


async def read_lines(store: ArchiveStore, segment: Segment) -> list[bytes]:
    """The checked event lines of one segment."""
    return segments.decode(segment.name, await store.get(segment.name), segment.sha256)


def parse(line: bytes) -> dict[str, Any] | None:
    """One stored line as an event object; None when it is not a JSON object."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def t_ms(event: dict[str, Any]) -> int:
    """An event's ``t_ms`` (0 when it has none, as the reader counts it)."""
    stamp = event.get("t_ms")
    return stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else 0


async def lines_in_order(
    store: ArchiveStore, listed: Sequence[Segment], *, ahead: int = 1
) -> AsyncGenerator[list[bytes], None]:
    """The checked lines of each of ``listed`` segments, in order, with up to ``ahead`` of the
    following segments being read meanwhile (a store's latency hidden, memory still bounded)."""
    reading: deque[asyncio.Task[list[bytes]]] = deque()
    following = iter(listed)
    try:
        for _ in listed:
            while len(reading) <= ahead and (segment := next(following, None)) is not None:
                reading.append(asyncio.create_task(read_lines(store, segment)))
            yield await reading.popleft()
    finally:
        for task in reading:
            task.cancel()
        await asyncio.gather(*reading, return_exceptions=True)


async def events_of(
    store: ArchiveStore, listed: Sequence[Segment]
) -> AsyncGenerator[dict[str, Any], None]:
    """Every event of ``listed`` segments in order, reading the next segment ahead."""
    batches = lines_in_order(store, listed)
    try:
        async for lines in batches:
            for line in lines:
                event = parse(line)
                if event is None:
                    logger.warning("a stored line is not a JSON object; skipped")
                    continue
                yield event
    finally:
        await batches.aclose()


async def stream_window(
    store: ArchiveStore, manifest: Manifest, *, from_ms: int, to_ms: int
) -> AsyncGenerator[dict[str, Any], None]:
    """The archived events with ``from_ms <= t_ms <= to_ms``, streamed (see the module doc)."""
    sources = [
        events_of(store, overlapping(manifest, kind, from_ms, to_ms)) for kind in kinds_of(manifest)
    ]
    try:
        async for event in _merged(sources):
            if from_ms <= t_ms(event) <= to_ms:
                yield event
    finally:
        for source in sources:
            await source.aclose()


async def _merged(
    sources: list[AsyncGenerator[dict[str, Any], None]],
) -> AsyncIterator[dict[str, Any]]:
    # heapq.merge's rule, for async inputs: take the smallest head by (t_ms, input position),
    # so at equal t_ms the earlier input (durable events) goes first and each input keeps its
    # own order even where its t_ms are not sorted.
    heads: list[tuple[int, int, dict[str, Any]]] = []
    for position, source in enumerate(sources):
        first = await anext(source, None)
        if first is not None:
            heads.append((t_ms(first), position, first))
    heapq.heapify(heads)
    while heads:
        _, position, event = heads[0]
        yield event
        following = await anext(sources[position], None)
        if following is None:
            heapq.heappop(heads)
        else:
            heapq.heapreplace(heads, (t_ms(following), position, following))
