"""Replay first-frame latency: from opening the replay socket to its first frame.

A long ended session is written straight into an archive store the way the archiver writes it
(segments of at most 500 entries or 5 s, gzip NDJSON, a manifest), with its record (session,
products, two clips) in a SQLite database; then the real app serves it on a loopback port and a
`websockets` client opens ``/ws/replay/{session}?clip_id=`` for a clip at the start of the
session and one late in it. Time = from starting the connection (TCP, handshake, token,
record, manifest, index, state fold) to receiving the ``replay_state`` frame.

- **first**: the first replay of the session ever: no index anywhere, so one pass over every
  durable segment builds it (and stores it beside the archive), then the fold.
- **node**: the first replay of the session on a node (or after a restart): the manifest and
  the stored index are read, then the fold from the nearest checkpoint.
- **warm**: the index is cached (every later replay of the session on that node).

Stores: a local directory, and a ``moto_server`` subprocess for S3. Bounded in size and time;
loopback only. Example (the figures in docs/benchmarks.md):

    python -m loadtests.replay_first_frame --minutes 120 --cold 3 --warm 20
"""

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from websockets.asyncio.client import connect

from live.app import create_app
from live.auth import tokens
from live.context import Context
from live.db import migrate
from live.db.engine import create_engine, session_factory
from live.db.models import ClipRow, ProductRow, SessionRow
from live.db.unit import transaction
from live.platform.settings import Settings
from live.replays.index import index_name
from loadtests.archive_throughput import _moto
from replay import segments
from replay.local_store import LocalArchiveStore
from replay.manifest import Manifest, manifest_name
from replay.segments import Entry, Segment
from replay.store import ArchiveStore

SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 - a loopback benchmark
BRAND = "bench"
SEGMENT_EVENTS, SEGMENT_MS = 500, 5_000
PRODUCTS = 20
PIN_EVERY_MS = 5 * 60_000


@dataclass(frozen=True)
class Timeline:
    """The generated session: its events by kind, products, and the two clips' windows."""

    durable: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    products: list[str]
    first_clip: tuple[str, int, int]
    late_clip: tuple[str, int, int]


def timeline(minutes: int, *, purchases_per_s: float, comments_per_s: float) -> Timeline:
    """Pins every 5 minutes (one product after another), a price change per pin, purchases
    (each with its stock event) and comments at steady rates."""
    rng = random.Random(7)
    end_ms = minutes * 60_000
    products = [f"prd_bench{n:02d}" for n in range(PRODUCTS)]
    stock = dict.fromkeys(products, 1_000_000)
    durable: list[dict[str, Any]] = [{"type": "started", "t_ms": 0}]
    pins = list(range(0, end_ms - PIN_EVERY_MS + 1, PIN_EVERY_MS))
    next_pin, version, t_ms = 0, 0, 0.0
    while t_ms < end_ms:
        while next_pin < len(pins) and pins[next_pin] <= t_ms:
            product = products[next_pin % PRODUCTS]
            durable.append({"type": "pin", "product_id": product, "t_ms": pins[next_pin]})
            durable.append(
                {
                    "type": "price",
                    "product_id": product,
                    "price_cents": 9_900 - next_pin,
                    "t_ms": pins[next_pin],
                }
            )
            next_pin += 1
        t_ms += rng.expovariate(purchases_per_s) * 1000
        product = products[(next_pin - 1) % PRODUCTS]
        stock[product] -= 1
        version += 1
        at = int(min(t_ms, end_ms - 1))
        durable.append(
            {"type": "purchase", "product_id": product, "user": "u", "qty": 1, "t_ms": at}
        )
        durable.append(
            {"type": "stock", "levels": {product: stock[product]}, "version": version, "t_ms": at}
        )
    durable.append({"type": "ended", "t_ms": end_ms})
    for seq, event in enumerate(durable, start=1):
        event["seq"] = seq
        event["ts"] = 1_795_000_000_000 + event["t_ms"]
    count = int(end_ms / 1000 * comments_per_s)
    stamps = sorted(rng.randrange(end_ms) for _ in range(count))
    comments = [
        {
            "type": "comment",
            "id": str(n + 1),
            "user": "Vic",
            "user_id": f"v{n % 500}",
            "text": "so pretty 666",
            "ts": 1_795_000_000_000 + t,
            "t_ms": t,
        }
        for n, t in enumerate(stamps)
    ]
    first = (products[0], pins[0], pins[1])
    last = len(pins) - 1
    late = (products[last % PRODUCTS], pins[last], end_ms)
    return Timeline(durable, comments, products, first, late)


def _cut(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Runs of events as the archiver cuts them: at most 500 entries or 5 s per segment."""
    runs: list[list[dict[str, Any]]] = []
    for event in events:
        if (
            not runs
            or len(runs[-1]) >= SEGMENT_EVENTS
            or event["t_ms"] - runs[-1][0]["t_ms"] >= SEGMENT_MS
        ):
            runs.append([])
        runs[-1].append(event)
    return runs


async def write_archive(store: ArchiveStore, session_id: str, line: Timeline) -> Manifest:
    """Every segment and the manifest, written to ``store``."""
    written: list[Segment] = []
    limit = asyncio.Semaphore(16)

    async def put(kind: str, first: int, run: list[dict[str, Any]]) -> None:
        entries = [Entry(first + i, orjson.dumps(e)) for i, e in enumerate(run)]
        segment, data = segments.encode(session_id, kind, entries)
        async with limit:
            await store.put_once(segment.name, data)
        written.append(segment)

    jobs = []
    for kind, events in (("events", line.durable), ("comments", line.comments)):
        first = 1
        for run in _cut(events):
            jobs.append(put(kind, first, run))
            first += len(run)
    await asyncio.gather(*jobs)
    manifest = Manifest.build(session_id, written, kinds=["events", "comments"])
    await store.put_once(manifest_name(session_id), manifest.to_bytes())
    return manifest


async def write_record(database_url: str, session_id: str, line: Timeline) -> list[str]:
    """The ended session, its products and its two clips; returns the clip ids."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    started = 1_795_000_000_000
    async with transaction(session_factory(engine)) as db:
        db.add(
            SessionRow(
                id=session_id,
                brand=BRAND,
                title="Bench",
                status="ended",
                host_id="h",
                pinned_product_id=None,
                created_ms=started,
                started_ms=started,
                ended_ms=started + line.durable[-1]["t_ms"],
            )
        )
        await db.flush()
        for product in line.products:
            db.add(
                ProductRow(
                    id=product,
                    session_id=session_id,
                    brand=BRAND,
                    sku=product,
                    title=product,
                    price_cents=9_900,
                    stock=1_000_000,
                    committed_qty=0,
                    stock_generation=0,
                    limit_per_viewer=None,
                    created_ms=started - 1,
                    opening_price_cents=9_900,
                )
            )
        clip_ids = []
        for n, (product, from_ms, to_ms) in enumerate((line.first_clip, line.late_clip), 1):
            clip_ids.append(f"{session_id}-{n}")
            db.add(
                ClipRow(
                    id=clip_ids[-1],
                    brand=BRAND,
                    session_id=session_id,
                    product_id=product,
                    title=product,
                    from_ms=from_ms,
                    to_ms=to_ms,
                    source="auto",
                    created_ms=started,
                    updated_ms=started,
                )
            )
    await engine.dispose()
    return clip_ids


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[int, Context]]:
    """The app under uvicorn with the options of ``live serve``, on a free loopback port."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ws="websockets-sansio",
        log_level="warning",
        ws_per_message_deflate=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1], app.state.ctx
    finally:
        server.should_exit = True
        await task


async def first_frame_s(url: str) -> float:
    """Seconds from opening the socket to its first frame (which must be the state)."""
    started = time.perf_counter()
    async with connect(url, max_size=None, compression=None) as socket:
        frame = orjson.loads(await socket.recv())
        elapsed = time.perf_counter() - started
    assert frame["type"] == "replay_state", frame
    return elapsed


async def measure(
    port: int, ctx: Context, session_id: str, clips: list[str], *, cold: int, warm: int
) -> dict[str, dict[str, list[float]]]:
    """First, node and warm first-frame times of each clip."""
    token = tokens.mint(SECRET, sub="viewer", role="viewer", brand=BRAND)
    results: dict[str, dict[str, list[float]]] = {}
    for label, clip_id in zip(("start", "late"), clips, strict=True):
        url = f"ws://127.0.0.1:{port}/ws/replay/{session_id}?token={token}&clip_id={clip_id}"
        times: dict[str, list[float]] = {"first": [], "node": [], "warm": []}
        for _ in range(cold):
            ctx.replay_indexes.forget(session_id)
            await ctx.store.delete(index_name(session_id))
            times["first"].append(await first_frame_s(url))
        for _ in range(cold):
            ctx.replay_indexes.forget(session_id)
            times["node"].append(await first_frame_s(url))
        times["warm"] = [await first_frame_s(url) for _ in range(warm)]
        results[label] = times
    return results


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


async def run_store(args: argparse.Namespace, workdir: Path, store_name: str) -> None:
    """Write the session to one store, serve it, measure, print."""
    line = timeline(
        args.minutes, purchases_per_s=args.purchases_per_s, comments_per_s=args.comments_per_s
    )
    session_id = f"ses_bench{store_name}"
    database_url = f"sqlite+aiosqlite:///{workdir / (store_name + '.db')}"
    clips = await write_record(database_url, session_id, line)
    base: dict[str, Any] = {
        "data_dir": workdir / f"data-{store_name}",
        "database_url": database_url,
        "redis_url": args.redis_url,
        "secret": SECRET,
        "payment_secret": SECRET,
    }
    if store_name == "local":
        store: ArchiveStore = LocalArchiveStore(workdir / "archive")
        settings = Settings(
            archive_url=(workdir / "archive").as_uri(), s3_endpoint_url=None, **base
        )
        manifest = await write_archive(store, session_id, line)
        await run_app(settings, session_id, clips, manifest, args, store_name)
        return
    async with _moto(workdir) as s3:
        manifest = await write_archive(s3, session_id, line)
        endpoint = s3.endpoint_url
        settings = Settings(archive_url="s3://bench/archive", s3_endpoint_url=endpoint, **base)
        await run_app(settings, session_id, clips, manifest, args, store_name)


async def run_app(
    settings: Settings,
    session_id: str,
    clips: list[str],
    manifest: Manifest,
    args: argparse.Namespace,
    store_name: str,
) -> None:
    durable = sum(1 for s in manifest.segments if s.kind == "events")
    print(
        f"{store_name}: {args.minutes} min session, {manifest.counts['events']:,} durable events "
        f"in {durable} segments, {manifest.counts['comments']:,} comments in "
        f"{len(manifest.segments) - durable} segments"
    )
    async with serving(settings) as (port, ctx):
        results = await measure(port, ctx, session_id, clips, cold=args.cold, warm=args.warm)
    for label, times in results.items():
        shown = "; ".join(f"{kind} {_ms(values)}" for kind, values in times.items())
        print(f"  clip at the {label}: {shown}")


async def main(args: argparse.Namespace) -> None:
    """Run the chosen stores' measurements and print them."""
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    workdir = Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        for store_name in ("local", "s3") if args.store == "both" else (args.store,):
            await run_store(args, workdir, store_name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["local", "s3", "both"], default="both")
    parser.add_argument("--minutes", type=int, default=120, help="length of the session")
    parser.add_argument("--purchases-per-s", type=float, default=2.0)
    parser.add_argument("--comments-per-s", type=float, default=20.0)
    parser.add_argument("--cold", type=int, default=3, help="cold opens per clip")
    parser.add_argument("--warm", type=int, default=20, help="warm opens per clip")
    parser.add_argument("--redis-url", help="a Redis to use instead of a private Valkey")
    asyncio.run(main(parser.parse_args()))
