"""Reading a session's archive back: its manifest, its replay, and a consistency check.

Readers use the manifest as the table of contents: a session without one is still being
archived (`None`). Every segment read is checked against the manifest's sha256.
"""

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import orjson

from replay import segments
from replay.errors import ArchiveCorrupt, ArchiveNotFound
from replay.manifest import Manifest, manifest_name
from replay.segments import DURABLE_KIND, Segment
from replay.store import ArchiveStore

logger = logging.getLogger(__name__)

_CONCURRENCY = 8
_T = TypeVar("_T")


async def read_manifest(store: ArchiveStore, session_id: str) -> Manifest | None:
    """The session's manifest; None while there is none. `ArchiveCorrupt` if it is malformed."""
    try:
        data = await store.get(manifest_name(session_id))
    except ArchiveNotFound:
        return None
    return Manifest.from_bytes(session_id, data)


async def read_replay(
    store: ArchiveStore, session_id: str, *, from_ms: int | None = None, to_ms: int | None = None
) -> list[dict[str, Any]] | None:
    """Archived events with ``from_ms <= t_ms <= to_ms`` (bounds optional); None if no manifest.

    Durable events come in ``seq`` order; the other kinds (comments) are merged in by ``t_ms``,
    stably, and after durable events of equal ``t_ms``. Raises `ArchiveCorrupt` when a segment
    of the window fails its checksum; segments wholly outside the window are not read.
    """
    manifest = await read_manifest(store, session_id)
    if manifest is None:
        return None
    wanted = [
        segment
        for segment in manifest.segments
        if (from_ms is None or segment.to_ms >= from_ms)
        and (to_ms is None or segment.from_ms <= to_ms)
    ]
    contents = await _bounded(_read_events(store, segment) for segment in wanted)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for segment, events in zip(wanted, contents, strict=True):
        by_kind.setdefault(segment.kind, []).extend(events)
    ordered = [by_kind.pop(DURABLE_KIND, [])] + [by_kind[kind] for kind in sorted(by_kind)]
    # heapq.merge is stable: at equal keys it yields from earlier inputs first (durable events).
    merged = heapq.merge(*ordered, key=_t_ms)
    return [
        event
        for event in merged
        if (from_ms is None or _t_ms(event) >= from_ms) and (to_ms is None or _t_ms(event) <= to_ms)
    ]


async def verify(store: ArchiveStore, session_id: str) -> list[str]:
    """Problems of the session's archive, human-readable; empty when it is complete and intact.

    Checks the manifest against the store: checksums, line counts, event ``seq`` numbers,
    gaps and duplicates between segments, counts, and stored segments the manifest omits.
    """
    problems: list[str] = []
    try:
        manifest = await read_manifest(store, session_id)
    except ArchiveCorrupt as exc:
        return [str(exc)]
    stored = [
        name
        for name in await store.list(f"sessions/{session_id}/")
        if segments.parse_name(name) is not None
    ]
    if manifest is None:
        problems.append(f"session {session_id} has no manifest yet")
        listed: list[Segment] = []
        for name in stored:
            try:
                listed.append(segments.describe(name, await store.get(name)))
            except ArchiveCorrupt as exc:
                problems.append(str(exc))
    else:
        listed = list(manifest.segments)
        names = {segment.name for segment in listed}
        problems.extend(
            f"{name} is stored but not in the manifest" for name in stored if name not in names
        )
        for segment in listed:
            problems.extend(await _check_segment(store, segment))
        totals = dict.fromkeys(manifest.counts, 0)
        for segment in listed:
            totals[segment.kind] = totals.get(segment.kind, 0) + segment.count
        if totals != manifest.counts:
            problems.append(f"manifest counts {manifest.counts} but segments hold {totals}")
    problems.extend(_sequence_problems(listed))
    return problems


async def _read_events(store: ArchiveStore, segment: Segment) -> list[dict[str, Any]]:
    lines = segments.decode(segment.name, await store.get(segment.name), segment.sha256)
    events: list[dict[str, Any]] = []
    for line in lines:
        event = _event(line)
        if event is None:
            logger.warning("%s holds a line that is not a JSON object; skipped", segment.name)
        else:
            events.append(event)
    return events


async def _check_segment(store: ArchiveStore, segment: Segment) -> list[str]:
    if segments.parse_name(segment.name) != (segment.kind, segment.first, segment.last):
        return [
            f"{segment.name} does not match its manifest entry "
            f"({segment.kind} {segment.first}..{segment.last})"
        ]
    try:
        lines = segments.decode(segment.name, await store.get(segment.name), segment.sha256)
    except (ArchiveNotFound, ArchiveCorrupt) as exc:
        return [str(exc)]
    problems: list[str] = []
    if len(lines) != segment.count or segment.count != segment.last - segment.first + 1:
        problems.append(f"{segment.name}: {len(lines)} lines, manifest says {segment.count}")
    for position, line in enumerate(lines):
        event = _event(line)
        if event is None:
            problems.append(f"{segment.name} line {position + 1} is not a JSON object")
        elif segment.kind == DURABLE_KIND and event.get("seq") != segment.first + position:
            problems.append(
                f"{segment.name} line {position + 1} has seq {event.get('seq')!r}, "
                f"expected {segment.first + position}"
            )
    return problems


def _sequence_problems(listed: Iterable[Segment]) -> list[str]:
    problems: list[str] = []
    expected: dict[str, int] = {}
    for segment in sorted(listed, key=lambda s: (s.kind, s.first, s.last)):
        after = expected.get(segment.kind, 1)
        if segment.first > after:
            problems.append(f"{segment.kind} gap: {after}..{segment.first - 1} missing")
        elif segment.first < after:
            through = min(segment.last, after - 1)
            problems.append(f"{segment.kind} duplicate: {segment.first}..{through} stored twice")
        expected[segment.kind] = max(after, segment.last + 1)
    return problems


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _t_ms(event: dict[str, Any]) -> int:
    stamp = event.get("t_ms")
    return stamp if isinstance(stamp, int) else 0


async def _bounded(reads: Iterable[Awaitable[_T]]) -> list[_T]:
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(read: Awaitable[_T]) -> _T:
        async with limit:
            return await read

    return list(await asyncio.gather(*(one(read) for read in reads)))
