"""The `ArchiveStore` contract, run against every implementation (local directory, S3)."""

import asyncio
import re
from pathlib import Path

import pytest

from replay.errors import ArchiveConflict, ArchiveNotFound, ArchiveUnavailable
from replay.local_store import LocalArchiveStore
from replay.s3_store import S3ArchiveStore
from replay.store import ArchiveStore, open_store
from tests.support.ports import free_port

WRITERS = 8


async def test_put_once_writes_a_new_object(store: ArchiveStore) -> None:
    """A first put_once of a name returns True and the object reads back byte for byte."""
    assert await store.put_once("sessions/a/events/x.bin", b"\x00payload\xff") is True
    assert await store.get("sessions/a/events/x.bin") == b"\x00payload\xff"
    assert await store.exists("sessions/a/events/x.bin") is True


async def test_put_once_of_identical_bytes_is_a_no_op(store: ArchiveStore) -> None:
    """Writing the same bytes again returns False and leaves the object as it was."""
    await store.put_once("sessions/a/manifest.json", b"{}")
    assert await store.put_once("sessions/a/manifest.json", b"{}") is False
    assert await store.get("sessions/a/manifest.json") == b"{}"


async def test_put_once_of_other_bytes_conflicts(store: ArchiveStore) -> None:
    """Writing other bytes under an existing name raises ArchiveConflict; the first bytes stay."""
    await store.put_once("sessions/a/manifest.json", b"first")
    with pytest.raises(ArchiveConflict) as raised:
        await store.put_once("sessions/a/manifest.json", b"second")
    assert raised.value.name == "sessions/a/manifest.json"
    assert await store.get("sessions/a/manifest.json") == b"first"


async def test_missing_object_is_not_found(store: ArchiveStore) -> None:
    """get of a missing name raises ArchiveNotFound and exists says False."""
    with pytest.raises(ArchiveNotFound):
        await store.get("sessions/none/manifest.json")
    assert await store.exists("sessions/none/manifest.json") is False


async def test_delete_removes_an_object_and_is_idempotent(store: ArchiveStore) -> None:
    """delete removes the object (a later put_once writes anew); deleting again is fine."""
    await store.put_once("sessions/d/manifest.json", b"old")
    await store.put_once("sessions/d/events/1.bin", b"keep")
    await store.delete("sessions/d/manifest.json")
    await store.delete("sessions/d/manifest.json")
    assert await store.exists("sessions/d/manifest.json") is False
    assert await store.list("sessions/d/") == ["sessions/d/events/1.bin"]
    assert await store.put_once("sessions/d/manifest.json", b"new") is True


async def test_list_returns_names_under_a_prefix_sorted(store: ArchiveStore) -> None:
    """list returns exactly the names starting with the prefix, in sorted order."""
    names = [
        "sessions/a/events/000000000002-000000000003.ndjson.gz",
        "sessions/a/events/000000000001-000000000001.ndjson.gz",
        "sessions/a/comments/000000000001-000000000004.ndjson.gz",
        "sessions/ab/events/000000000001-000000000001.ndjson.gz",
        "sessions/a/manifest.json",
    ]
    for name in names:
        await store.put_once(name, name.encode())
    assert await store.list("sessions/a/events/") == sorted(names[:2])
    assert await store.list("sessions/a/") == sorted(names[:3] + names[4:])
    assert await store.list("sessions/a") == sorted(names)
    assert await store.list("sessions/zzz/") == []


async def test_concurrent_writers_of_one_name_have_one_winner(store: ArchiveStore) -> None:
    """Of several concurrent put_once calls with the same bytes exactly one returns True."""
    name = "sessions/a/events/000000000001-000000000500.ndjson.gz"
    results = await asyncio.gather(*(store.put_once(name, b"same") for _ in range(WRITERS)))
    assert sorted(results) == [False] * (WRITERS - 1) + [True]


async def test_concurrent_writers_of_different_bytes_keep_the_winner(store: ArchiveStore) -> None:
    """Concurrent put_once calls with different bytes: one wins, the rest conflict."""
    name = "sessions/a/manifest.json"
    results = await asyncio.gather(
        *(store.put_once(name, f"writer {index}".encode()) for index in range(WRITERS)),
        return_exceptions=True,
    )
    winners = [index for index, result in enumerate(results) if result is True]
    assert len(winners) == 1
    assert all(isinstance(r, ArchiveConflict) for i, r in enumerate(results) if i != winners[0])
    assert await store.get(name) == f"writer {winners[0]}".encode()


async def test_local_store_never_lists_temporary_files(tmp_path: Path) -> None:
    """A leftover temporary file of an interrupted write is invisible to list."""
    store = LocalArchiveStore(tmp_path)
    await store.put_once("sessions/a/manifest.json", b"{}")
    (tmp_path / "sessions" / "a" / ".tmp-leftover").write_bytes(b"partial")
    assert await store.list("sessions/") == ["sessions/a/manifest.json"]


async def test_local_store_refuses_names_outside_its_root(tmp_path: Path) -> None:
    """Names that could escape the root or hide as temporary files are rejected."""
    store = LocalArchiveStore(tmp_path / "root")
    for name in ["../x", "/etc/passwd", "a//b", "a/./b", ".tmp-x", ""]:
        with pytest.raises(ValueError, match="invalid object name"):
            await store.put_once(name, b"x")
    with pytest.raises(ValueError, match="invalid name prefix"):
        await store.list("../")


async def test_s3_store_unreachable_is_unavailable(aws_env: None) -> None:
    """Every call to an S3 endpoint nobody listens on raises ArchiveUnavailable."""
    store = S3ArchiveStore("bucket", endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1)
    try:
        with pytest.raises(ArchiveUnavailable):
            await store.put_once("a", b"x")
        with pytest.raises(ArchiveUnavailable):
            await store.get("a")
        with pytest.raises(ArchiveUnavailable):
            await store.exists("a")
        with pytest.raises(ArchiveUnavailable):
            await store.list("")
    finally:
        await store.aclose()


async def test_s3_store_missing_bucket_is_unavailable(s3_store: S3ArchiveStore) -> None:
    """A bucket that does not exist makes writes fail as ArchiveUnavailable, not a raw error."""
    store = S3ArchiveStore("no-such-bucket", endpoint_url=s3_store.endpoint_url, max_attempts=1)
    try:
        with pytest.raises(ArchiveUnavailable, match="NoSuchBucket"):
            await store.put_once("a", b"x")
    finally:
        await store.aclose()


def test_open_store_picks_the_implementation_from_the_url() -> None:
    """file:// gives a local store at its path; s3:// an S3 store on its bucket and prefix."""
    local = open_store("file:///var/lib/live/archive")
    assert isinstance(local, LocalArchiveStore)
    assert local.root == Path("/var/lib/live/archive")
    s3 = open_store("s3://media/live/archive/", s3_endpoint_url="http://127.0.0.1:9000")
    assert isinstance(s3, S3ArchiveStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == (
        "media",
        "live/archive",
        "http://127.0.0.1:9000",
    )


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "file://host/x", "file:relative/dir", "s3:///prefix", "archive"]
)
def test_open_store_rejects_other_urls(url: str) -> None:
    """URLs that are not file:///abs or s3://bucket raise ValueError naming the URL."""
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        open_store(url)
