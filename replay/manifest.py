"""The manifest: the list of a finished session's segments, written once when it has ended.

A manifest exists only for a session whose ``ended`` event and every entry counted by its
stream counters are archived; readers treat its absence as "archive pending".
"""

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from replay import segments
from replay.errors import ArchiveCorrupt
from replay.segments import Segment
from replay.store import ArchiveStore

logger = logging.getLogger(__name__)

_READ_BACK_CONCURRENCY = 8

FORMAT_VERSION = 1


def manifest_name(session_id: str) -> str:
    """Object name of a session's manifest."""
    return f"sessions/{session_id}/manifest.json"


@dataclass(frozen=True, slots=True)
class Manifest:
    """Segments of an ended session, ordered by kind then `first`; counts per kind; t_ms bounds."""

    session_id: str
    segments: tuple[Segment, ...]
    counts: dict[str, int]
    from_ms: int
    to_ms: int
    ended: bool = True

    @classmethod
    def build(
        cls, session_id: str, segments: Iterable[Segment], *, kinds: Iterable[str] = ()
    ) -> "Manifest":
        """The manifest listing `segments` (in kind, then `first` order); `kinds` count from 0."""
        ordered = tuple(sorted(segments, key=lambda segment: (segment.kind, segment.first)))
        counts = dict.fromkeys(sorted(kinds), 0)
        for segment in ordered:
            counts[segment.kind] = counts.get(segment.kind, 0) + segment.count
        return cls(
            session_id=session_id,
            segments=ordered,
            counts=counts,
            from_ms=min((segment.from_ms for segment in ordered), default=0),
            to_ms=max((segment.to_ms for segment in ordered), default=0),
        )

    def to_bytes(self) -> bytes:
        """Deterministic JSON bytes: the same manifest always encodes to the same bytes."""
        document = {
            "version": FORMAT_VERSION,
            "session_id": self.session_id,
            "ended": self.ended,
            "segments": [segment.to_json() for segment in self.segments],
            "counts": self.counts,
            "from_ms": self.from_ms,
            "to_ms": self.to_ms,
        }
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, session_id: str, data: bytes) -> "Manifest":
        """Parse stored manifest bytes; `ArchiveCorrupt` when they are not a valid manifest."""
        name = manifest_name(session_id)
        try:
            document: Any = orjson.loads(data)
            if not isinstance(document, dict) or document.get("session_id") != session_id:
                raise ValueError("not the manifest of this session")
            segments = tuple(Segment.from_json(item) for item in document["segments"])
            counts = {str(kind): int(count) for kind, count in document["counts"].items()}
            return cls(
                session_id=session_id,
                segments=segments,
                counts=counts,
                from_ms=int(document["from_ms"]),
                to_ms=int(document["to_ms"]),
                ended=bool(document["ended"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArchiveCorrupt(name, f"malformed manifest: {exc}") from exc


async def collect_manifest(
    store: ArchiveStore, session_id: str, *, kinds: Iterable[str]
) -> Manifest:
    """The manifest of the segments of `kinds` stored for a session, each read back and checked.

    Raises `ArchiveCorrupt` when a stored segment does not decode to what its name says.
    Segments another one already covers (left by a write that landed after its writer was
    presumed dead) are left out.
    """
    kinds = list(kinds)
    names: list[str] = []
    for kind in kinds:
        listed = await store.list(segments.kind_prefix(session_id, kind))
        names.extend(name for name in listed if segments.parse_name(name) is not None)
    limit = asyncio.Semaphore(_READ_BACK_CONCURRENCY)

    async def describe(name: str) -> Segment:
        async with limit:
            return segments.describe(name, await store.get(name))

    found = await asyncio.gather(*(describe(name) for name in names))
    return Manifest.build(session_id, _chain(session_id, found), kinds=kinds)


def _chain(session_id: str, found: Iterable[Segment]) -> list[Segment]:
    chained: list[Segment] = []
    covered: dict[str, int] = {}
    for segment in sorted(found, key=lambda s: (s.kind, s.first, -s.last)):
        through = covered.get(segment.kind, 0)
        if segment.last <= through:
            logger.warning("session %s: %s is redundant, not listed", session_id, segment.name)
            continue
        if segment.first <= through:
            logger.error("session %s: %s overlaps its predecessor", session_id, segment.name)
        chained.append(segment)
        covered[segment.kind] = segment.last
    return chained
