"""Segments: runs of consecutive stream entries of one kind, stored as gzipped NDJSON.

A segment holds entries ``first..last`` of one stream kind, with no gap, one line per entry: the
entry's event JSON exactly as it was sent to clients. The bytes are deterministic (gzip with
``mtime=0``), so the same entries always give the same object, the same name and the same
sha256, which is what lets a restarted archiver rewrite a segment harmlessly.
"""

import gzip
import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from replay.errors import ArchiveCorrupt

_F = TypeVar("_F", str, int)

DURABLE_KIND = "events"
"""The stream kind of durable events: ordered by ``seq``, closed by the ``ended`` event."""

_NAME = re.compile(
    r"^sessions/(?P<session>[^/]+)/(?P<kind>[^/]+)/(?P<first>\d{12})-(?P<last>\d{12})\.ndjson\.gz$"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry: its sequence number (the ``<seq>`` of id ``<seq>-0``) and event JSON."""

    seq: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class Segment:
    """A stored segment: entries `first`..`last` of `kind`; `from_ms`/`to_ms` bound their t_ms."""

    name: str
    kind: str
    first: int
    last: int
    count: int
    sha256: str
    from_ms: int
    to_ms: int

    def to_json(self) -> dict[str, Any]:
        """The segment as a JSON object (manifest entry)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "first": self.first,
            "last": self.last,
            "count": self.count,
            "sha256": self.sha256,
            "from_ms": self.from_ms,
            "to_ms": self.to_ms,
        }

    @classmethod
    def from_json(cls, value: Any) -> "Segment":
        """Parse a manifest entry; ValueError when a field is missing or mistyped."""
        if not isinstance(value, dict):
            raise ValueError("a segment must be a JSON object")
        name, kind, sha256 = (_field(value, key, str) for key in ("name", "kind", "sha256"))
        first, last, count, from_ms, to_ms = (
            _field(value, key, int) for key in ("first", "last", "count", "from_ms", "to_ms")
        )
        return cls(name, kind, first, last, count, sha256, from_ms, to_ms)


def kind_prefix(session_id: str, kind: str) -> str:
    """Name prefix of every segment of one kind of a session."""
    return f"sessions/{session_id}/{kind}/"


def segment_name(session_id: str, kind: str, first: int, last: int) -> str:
    """Object name of the segment holding entries `first`..`last`."""
    return f"{kind_prefix(session_id, kind)}{first:012d}-{last:012d}.ndjson.gz"


def parse_name(name: str) -> tuple[str, int, int] | None:
    """``(kind, first, last)`` of a segment name; None when `name` is not a segment name."""
    match = _NAME.match(name)
    if match is None:
        return None
    return match["kind"], int(match["first"]), int(match["last"])


def encode(session_id: str, kind: str, entries: Sequence[Entry]) -> tuple[Segment, bytes]:
    """Build the segment of `entries` (non-empty, consecutive seqs) and its stored bytes."""
    if not entries:
        raise ValueError("a segment holds at least one entry")
    first, last = entries[0].seq, entries[-1].seq
    if [entry.seq for entry in entries] != list(range(first, last + 1)):
        raise ValueError(f"segment entries {first}..{last} are not consecutive")
    lines = [_one_line(entry.raw) for entry in entries]
    data = gzip.compress(b"".join(line + b"\n" for line in lines), mtime=0)
    segment = _describe(segment_name(session_id, kind, first, last), kind, first, lines, data)
    return segment, data


def decode(name: str, data: bytes, sha256: str | None = None) -> list[bytes]:
    """The event lines of a stored segment; `ArchiveCorrupt` on a checksum or format mismatch.

    `sha256` is the expected checksum (from a manifest); None skips that check.
    """
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ArchiveCorrupt(name, "sha256 mismatch")
    try:
        text = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveCorrupt(name, f"not gzip: {exc}") from exc
    if text and not text.endswith(b"\n"):
        raise ArchiveCorrupt(name, "truncated last line")
    return text.split(b"\n")[:-1]


def describe(name: str, data: bytes) -> Segment:
    """The `Segment` of stored bytes named `name`; `ArchiveCorrupt` when they do not match it."""
    parsed = parse_name(name)
    if parsed is None:
        raise ValueError(f"{name!r} is not a segment name")
    kind, first, last = parsed
    lines = decode(name, data)
    if len(lines) != last - first + 1:
        raise ArchiveCorrupt(name, f"{len(lines)} lines for entries {first}..{last}")
    return _describe(name, kind, first, lines, data)


def t_ms(line: bytes) -> int | None:
    """The ``t_ms`` of an event line; None when the line is not an object with an integer one."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    stamp = value.get("t_ms") if isinstance(value, dict) else None
    return stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else None


def _field(value: dict[str, Any], key: str, kind: type[_F]) -> _F:
    item = value.get(key)
    if not isinstance(item, kind) or isinstance(item, bool):
        raise ValueError(f"segment field {key!r} must be a {kind.__name__}, not {item!r}")
    return item


def _describe(name: str, kind: str, first: int, lines: list[bytes], data: bytes) -> Segment:
    stamps = [stamp for stamp in map(t_ms, lines) if stamp is not None]
    return Segment(
        name=name,
        kind=kind,
        first=first,
        last=first + len(lines) - 1,
        count=len(lines),
        sha256=hashlib.sha256(data).hexdigest(),
        from_ms=min(stamps, default=0),
        to_ms=max(stamps, default=0),
    )


def _one_line(raw: bytes) -> bytes:
    if b"\n" not in raw:
        return raw
    # A line break can only be insignificant JSON whitespace (strings escape them); compacting
    # keeps one entry per line. Non-JSON bytes have no meaning to keep, so they are flattened.
    try:
        return orjson.dumps(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return raw.replace(b"\n", b" ")
