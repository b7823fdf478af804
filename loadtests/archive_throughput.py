"""Archive benchmarks: throughput to the local store and to an S3 server, and lag under a flood.

Everything runs on loopback: a private Valkey (or ``--redis-url``), a temporary archive
directory, and a ``moto_server`` subprocess for S3. Two measurements per store:

- **throughput**: ``--events`` durable events are written to a session stream first, then one
  `Archiver` (the app's defaults: 500-entry segments) archives them and writes the manifest;
  events per second = events / wall time from start to manifest.
- **lag under a flood**: a producer appends ``--rate`` events per second for ``--flood-s``
  seconds (in 10 ms batches) while the archiver runs with the app's defaults; an event's lag is
  the time from its append to the store confirming the segment that holds it.

Bounded in size and time; loopback only. Example (the figures in docs/benchmarks.md):

    python -m loadtests.archive_throughput --events 100000 --rate 2000 --flood-s 20
"""

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aioboto3
import orjson
import redis.asyncio as aioredis

from live.platform.embedded_valkey import EmbeddedValkey
from loadtests.ports import free_port
from replay import segments
from replay.archiver import Archiver, track
from replay.keys import ARCHIVE_SESSIONS
from replay.local_store import LocalArchiveStore
from replay.s3_store import S3ArchiveStore
from replay.store import ArchiveStore

BATCH_PERIOD_S = 0.01
EVENT_PADDING = "x" * 120  # brings an event to about 250 bytes, like a pin or stock event


def _streams(session_id: str) -> Mapping[str, str]:
    return {"events": f"live:{{{session_id}}}:events"}


def _counters(session_id: str) -> Mapping[str, str]:
    return {"events": f"live:{{{session_id}}}:events:seq"}


def _event(seq: int, kind: str = "stock") -> bytes:
    now_ms = int(time.time() * 1000)
    return orjson.dumps(
        {"type": kind, "seq": seq, "note": EVENT_PADDING, "ts": now_ms, "t_ms": seq}
    )


async def _append(redis: aioredis.Redis, session_id: str, first: int, count: int) -> None:
    key, counter = _streams(session_id)["events"], _counters(session_id)["events"]
    async with redis.pipeline(transaction=True) as pipe:
        for seq in range(first, first + count):
            pipe.xadd(key, {"e": _event(seq)}, id=f"{seq}-0")
        pipe.set(counter, first + count - 1)
        await pipe.execute()


async def _end(redis: aioredis.Redis, session_id: str, seq: int) -> None:
    await redis.xadd(_streams(session_id)["events"], {"e": _event(seq, "ended")}, id=f"{seq}-0")
    await redis.set(_counters(session_id)["events"], seq)


def _archiver(redis: aioredis.Redis, store: ArchiveStore, node: str) -> Archiver:
    return Archiver(
        redis, store, streams_for=_streams, counters_for=_counters, node_id=node, poll_ms=200
    )


class _TimedStore:
    """Records when the store confirmed each segment's entries."""

    def __init__(self, store: ArchiveStore, confirmed: Callable[[int, int, float], None]) -> None:
        self._store = store
        self._confirmed = confirmed

    async def put_once(self, name: str, data: bytes) -> bool:
        written = await self._store.put_once(name, data)
        parsed = segments.parse_name(name)
        if parsed is not None:
            self._confirmed(parsed[1], parsed[2], time.monotonic())
        return written

    async def get(self, name: str) -> bytes:
        return await self._store.get(name)

    async def exists(self, name: str) -> bool:
        return await self._store.exists(name)

    async def aclose(self) -> None:
        await self._store.aclose()

    async def list(self, prefix: str) -> list[str]:
        return await self._store.list(prefix)


async def throughput(redis: aioredis.Redis, store: ArchiveStore, events: int) -> float:
    """Events per second archived from a stream already holding `events` entries."""
    session_id = f"bench-tp-{time.monotonic_ns()}"
    for first in range(1, events + 1, 1000):
        await _append(redis, session_id, first, min(1000, events + 1 - first))
    await _end(redis, session_id, events + 1)
    await track(redis, session_id)
    archiver = _archiver(redis, store, "bench-tp")
    started = time.monotonic()
    while not await archiver.archive_once(session_id):
        pass  # archive_once returns at once when there is more to read: no idle wait
    return (events + 1) / (time.monotonic() - started)


async def flood_lag(
    redis: aioredis.Redis, store: ArchiveStore, rate: int, seconds: float
) -> list[float]:
    """Lag (s) of every event appended at `rate` per second for `seconds`."""
    session_id = f"bench-lag-{time.monotonic_ns()}"
    appended: dict[int, float] = {}
    lags: list[float] = []

    def confirmed(first: int, last: int, at: float) -> None:
        lags.extend(at - appended[seq] for seq in range(first, last + 1) if seq in appended)

    await track(redis, session_id)
    archiver = _archiver(redis, _TimedStore(store, confirmed), "bench-lag")
    running = asyncio.create_task(archiver.run())
    per_batch = max(1, round(rate * BATCH_PERIOD_S))
    seq = 1
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < seconds:
        await _append(redis, session_id, seq, per_batch)
        now = time.monotonic()
        appended.update((s, now) for s in range(seq, seq + per_batch))
        seq += per_batch
        # Pacing the producer to the target rate (absolute schedule, so drift does not add up).
        next_batch = start + (seq - 1) / per_batch * BATCH_PERIOD_S
        await asyncio.sleep(max(0.0, next_batch - loop.time()))
    await _end(redis, session_id, seq)
    # Polling for the manifest (a Redis set, no event to wait on), outside the measured lags.
    while await redis.sismember(ARCHIVE_SESSIONS, session_id):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    archiver.stop()
    await running
    return lags


@asynccontextmanager
async def _moto(workdir: Path) -> AsyncIterator[S3ArchiveStore]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    port = free_port()
    log = (workdir / "moto.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("moto_server")),
        *("-H", "127.0.0.1", "-p", str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                async with aioboto3.Session().client("s3", endpoint_url=endpoint) as client:
                    await client.create_bucket(Bucket="bench")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)  # waiting for moto_server to listen
        store = S3ArchiveStore("bench", "archive", endpoint_url=endpoint)
        try:
            yield store
        finally:
            await store.aclose()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
        log.close()


@asynccontextmanager
async def _redis(url: str | None, workdir: Path) -> AsyncIterator[aioredis.Redis]:
    server = None
    if url is None:
        server = EmbeddedValkey(workdir / "valkey", persistent=False)
        server.start()
        url = server.url
    client = aioredis.Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()
        if server is not None:
            server.stop()


def _report(label: str, per_s: float, lags: list[float]) -> None:
    ordered = sorted(lags)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{label}: throughput {per_s:,.0f} events/s; flood lag over {len(lags)} events: "
        f"p50 {statistics.median(ordered):.2f} s, p99 {p99:.2f} s, max {ordered[-1]:.2f} s"
    )


async def main(args: argparse.Namespace) -> None:
    """Run the chosen stores' measurements and print one line each."""
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    workdir = Path(tempfile.mkdtemp(prefix="archive-bench-"))
    try:
        async with _redis(args.redis_url, workdir) as redis:
            if args.store in {"local", "both"}:
                local = LocalArchiveStore(workdir / "archive")
                per_s = await throughput(redis, local, args.events)
                _report("local", per_s, await flood_lag(redis, local, args.rate, args.flood_s))
            if args.store in {"s3", "both"}:
                async with _moto(workdir) as s3:
                    per_s = await throughput(redis, s3, args.events)
                    _report("s3 (moto)", per_s, await flood_lag(redis, s3, args.rate, args.flood_s))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["local", "s3", "both"], default="both")
    parser.add_argument("--events", type=int, default=100_000, help="throughput run size")
    parser.add_argument("--rate", type=int, default=2_000, help="flood events per second")
    parser.add_argument("--flood-s", type=float, default=20.0, help="flood duration")
    parser.add_argument("--redis-url", help="a Redis to use instead of a private Valkey")
    asyncio.run(main(parser.parse_args()))
