"""Segment encoding: deterministic gzipped NDJSON, names, checksums and corruption."""

import gzip
import hashlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay import segments
from replay.errors import ArchiveCorrupt
from replay.segments import Entry, Segment

# JSON strings: any text but lone surrogates, which UTF-8 cannot encode.
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


def _event(seq: int, t_ms: int) -> bytes:
    return orjson.dumps({"type": "pin", "seq": seq, "product_id": "p1", "t_ms": t_ms})


def test_segment_name_is_zero_padded_and_parses_back() -> None:
    """Names are sessions/{id}/{kind}/{first:012d}-{last:012d}.ndjson.gz and parse back."""
    name = segments.segment_name("s1", "events", 1, 500)
    assert name == "sessions/s1/events/000000000001-000000000500.ndjson.gz"
    assert segments.parse_name(name) == ("events", 1, 500)
    assert segments.parse_name("sessions/s1/manifest.json") is None


def test_encoding_is_deterministic_and_checksummed() -> None:
    """The same entries give the same bytes; sha256, count and t_ms bounds describe them."""
    entries = [Entry(seq, _event(seq, 100 * seq)) for seq in range(3, 7)]
    segment, data = segments.encode("s1", "events", entries)
    assert segments.encode("s1", "events", entries) == (segment, data)
    assert segment == Segment(
        name="sessions/s1/events/000000000003-000000000006.ndjson.gz",
        kind="events",
        first=3,
        last=6,
        count=4,
        sha256=hashlib.sha256(data).hexdigest(),
        from_ms=300,
        to_ms=600,
    )
    assert gzip.decompress(data) == b"".join(entry.raw + b"\n" for entry in entries)


@given(
    st.lists(
        st.dictionaries(_TEXT, _TEXT | st.integers(min_value=-(2**63), max_value=2**63 - 1)),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=10**9),
)
def test_decode_returns_the_exact_lines_encoded(
    events: list[dict[str, object]], first: int
) -> None:
    """Any JSON objects survive encode then decode byte for byte, in order."""
    raws = [orjson.dumps(event) for event in events]
    entries = [Entry(first + index, raw) for index, raw in enumerate(raws)]
    segment, data = segments.encode("s", "comments", entries)
    assert segments.decode(segment.name, data, segment.sha256) == raws
    assert segments.describe(segment.name, data) == segment


def test_pretty_printed_json_is_compacted_to_one_line() -> None:
    """An event JSON with line breaks is stored compacted, still one entry per line."""
    segment, data = segments.encode("s", "events", [Entry(1, b'{\n "type": "pin"\n}')])
    assert segments.decode(segment.name, data) == [b'{"type":"pin"}']


def test_non_consecutive_entries_are_refused() -> None:
    """A segment never spans a gap: entries must have consecutive seqs."""
    with pytest.raises(ValueError, match="not consecutive"):
        segments.encode("s", "events", [Entry(1, b"{}"), Entry(3, b"{}")])
    with pytest.raises(ValueError, match="at least one"):
        segments.encode("s", "events", [])


def test_checksum_mismatch_is_corrupt() -> None:
    """Bytes that do not hash to the expected sha256 raise ArchiveCorrupt naming the object."""
    segment, data = segments.encode("s", "events", [Entry(1, _event(1, 0))])
    flipped = data[:-1] + bytes([data[-1] ^ 0xFF])
    with pytest.raises(ArchiveCorrupt) as raised:
        segments.decode(segment.name, flipped, segment.sha256)
    assert raised.value.name == segment.name


def test_undecodable_or_miscounted_bytes_are_corrupt() -> None:
    """Non-gzip bytes, and a line count that contradicts the name, raise ArchiveCorrupt."""
    with pytest.raises(ArchiveCorrupt, match="not gzip"):
        segments.decode("x", b"plain text")
    name = segments.segment_name("s", "events", 1, 3)
    with pytest.raises(ArchiveCorrupt, match="2 lines"):
        segments.describe(name, gzip.compress(b"{}\n{}\n", mtime=0))
