"""``live archive verify SESSION`` as an operator runs it, against a local archive directory."""

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from replay.archiver import Archiver
from replay.keys import ARCHIVE_SESSIONS
from replay.local_store import LocalArchiveStore
from tests.replay.session_streams import SessionStreams, counter_keys, stream_keys
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.units import UNIT_S

LIVE = Path(sys.executable).with_name("live")


def _verify(data_dir: Path, session_id: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVE_")}
    env.update(
        {"LIVE_DATA_DIR": str(data_dir), "LIVE_ARCHIVE_URL": (data_dir / "archive").as_uri()}
    )
    env.update(settings)
    return subprocess.run(  # noqa: S603 - our own console script
        [str(LIVE), "archive", "verify", session_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=30 * UNIT_S,
        check=False,
    )


@pytest.fixture
async def archived(
    redis: aioredis.Redis, data_dir: Path, unique_id: str
) -> AsyncIterator[SessionStreams]:
    """A session with 12 events and 4 comments, archived in segments of 5 under the data dir."""
    streams = SessionStreams(redis, f"cli{unique_id}")
    await streams.pins(11, step_ms=100)
    await streams.comments(4, t_ms=50, step_ms=100)
    await streams.end(t_ms=2000)
    archiver = Archiver(
        redis,
        LocalArchiveStore(data_dir / "archive"),
        streams_for=stream_keys,
        counters_for=counter_keys,
        node_id="cli-test",
        segment_events=5,
        segment_ms=0,
    )

    async def finished() -> bool:
        return await archiver.archive_once(streams.session_id)

    await eventually(finished)
    try:
        yield streams
    finally:
        await redis.srem(ARCHIVE_SESSIONS, streams.session_id)


def _segment(data_dir: Path, session_id: str, name: str) -> Path:
    return data_dir / "archive" / "sessions" / session_id / name


async def test_verify_passes_on_a_complete_archive(
    archived: SessionStreams, data_dir: Path
) -> None:
    """A contiguous archive whose checksums match exits 0 and says so."""
    result = _verify(data_dir, archived.session_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "contiguous and its checksums match" in result.stdout


async def test_verify_reports_a_corrupt_segment(archived: SessionStreams, data_dir: Path) -> None:
    """A segment whose bytes changed fails its checksum: printed, exit 1."""
    segment = _segment(data_dir, archived.session_id, "events/000000000006-000000000010.ndjson.gz")
    segment.write_bytes(segment.read_bytes()[:-4] + b"\0\0\0\0")
    result = _verify(data_dir, archived.session_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "000000000006-000000000010.ndjson.gz is corrupt: sha256 mismatch" in result.stdout


async def test_verify_reports_a_missing_segment(archived: SessionStreams, data_dir: Path) -> None:
    """A segment listed in the manifest but gone from the store is reported: exit 1."""
    _segment(data_dir, archived.session_id, "comments/000000000001-000000000004.ndjson.gz").unlink()
    result = _verify(data_dir, archived.session_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "000000000001-000000000004.ndjson.gz not found" in result.stdout


async def test_verify_reports_a_session_without_manifest(data_dir: Path, unique_id: str) -> None:
    """A session that was never archived (or is still being archived) has no manifest: exit 1."""
    result = _verify(data_dir, f"none{unique_id}")
    assert result.returncode == 1
    assert "has no manifest yet" in result.stdout


@pytest.mark.usefixtures("aws_env")
async def test_verify_fails_with_status_2_when_the_store_is_unreachable(
    data_dir: Path, unique_id: str
) -> None:
    """An archive store that cannot be read is an error of its own (exit 2), not a verdict."""
    result = _verify(
        data_dir,
        f"any{unique_id}",
        LIVE_ARCHIVE_URL="s3://nowhere/archive",
        LIVE_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot verify the archive" in result.stderr
