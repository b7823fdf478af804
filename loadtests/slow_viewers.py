"""Server memory under idle viewers and under viewers that stop reading during a flood.

Starts `live serve` as a child process on loopback (its own Valkey started here, so the flood
can be published straight onto the session stream), then measures the server's resident memory
(VmRSS) while:

1. ``--idle`` viewers connect and sit idle (memory per idle viewer);
2. ``--stalled`` viewers with a tiny receive window stop reading while ``--events`` durable
   events of ``--frame-bytes`` are published, next to one viewer that keeps reading.

Bounded in count and time; loopback only. Example:

    python -m loadtests.slow_viewers --idle 2000 --stalled 200 --events 3000 --rate 200
"""

import argparse
import asyncio
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from live.auth import tokens
from live.platform.embedded_valkey import EmbeddedValkey
from loadtests import live_node
from loadtests.live_node import SECRET
from loadtests.ports import free_port
from realtime.bus import EventBus


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _wait_healthy(base: str, deadline_s: float = 30) -> None:
    async with httpx.AsyncClient() as client:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become healthy")


async def _session(base: str) -> str:
    host = tokens.mint(SECRET, sub="host", role="host", brand="bench")
    headers = {"Authorization": f"Bearer {host}"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        session_id: str = (await client.post("/api/sessions", json={"title": "b"})).json()["id"]
        await client.post(f"/api/sessions/{session_id}/start")
    return session_id


async def _join(url: str, *, stalled: bool) -> ClientConnection:
    sock = socket.socket()
    if stalled:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
    client = await connect(url, sock=sock, max_size=None, compression=None, max_queue=4)
    if not stalled:
        await client.recv()  # the snapshot
    return client


async def run(args: argparse.Namespace) -> None:
    """Run both phases and print the figures."""
    data = Path(tempfile.mkdtemp(prefix="bench-slow-"))
    valkey = EmbeddedValkey(data / "valkey", persistent=False)
    valkey.start()
    port = free_port()
    env = live_node.node_env(data, valkey.url)
    server = subprocess.Popen(  # noqa: S603, ASYNC220 - our console script, started once
        live_node.serve_command(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(base)
        session_id = await _session(base)

        def url(user: str) -> str:
            token = tokens.mint(SECRET, sub=user, role="viewer", brand="bench")
            return f"ws://127.0.0.1:{port}/ws/sessions/{session_id}?token={token}"

        before = _rss_kib(server.pid)
        idle = [await _join(url(f"idle-{n}"), stalled=False) for n in range(args.idle)]
        await asyncio.sleep(2)
        with_idle = _rss_kib(server.pid)
        per_idle = (with_idle - before) / max(1, args.idle)
        print(
            f"idle viewers: {args.idle}, server RSS {before} KiB -> {with_idle} KiB, "
            f"{per_idle:.1f} KiB per idle viewer"
        )
        for client in idle:
            await client.close()
        await asyncio.sleep(2)

        stalled = [await _join(url(f"stalled-{n}"), stalled=True) for n in range(args.stalled)]
        reader = await _join(url("reader"), stalled=False)
        received = 0

        async def read() -> None:
            nonlocal received
            while received < args.events:
                frame = await reader.recv()
                received += str(frame).count('"type":"pin"')

        reading = asyncio.create_task(read())
        valkey_client = Redis.from_url(valkey.url)
        bus = EventBus(valkey_client)
        start_rss = _rss_kib(server.pid)
        peak = start_rss
        started = time.monotonic()
        pad = "x" * args.frame_bytes
        for n in range(args.events):
            await bus.publish(session_id, "pin", {"product_id": f"p{n}", "pad": pad})
            if n % 10 == 9:
                # Paced at --rate events/s: the flood a host and a busy room produce.
                await asyncio.sleep(max(0.0, started + (n + 1) / args.rate - time.monotonic()))
                peak = max(peak, _rss_kib(server.pid))
        await asyncio.wait_for(reading, 120)
        elapsed = time.monotonic() - started
        await asyncio.sleep(2)
        peak = max(peak, _rss_kib(server.pid))
        closed = 0
        for client in stalled:
            try:
                async with asyncio.timeout(5):
                    while True:
                        await client.recv()
            except (ConnectionClosed, TimeoutError):
                closed += 1
        print(
            f"flood: {args.events} events of {args.frame_bytes} B in {elapsed:.1f} s, "
            f"reader got {received}; stalled viewers: {args.stalled}, closed: {closed}; "
            f"server RSS {start_rss} KiB -> peak {peak} KiB "
            f"(+{(peak - start_rss) / max(1, args.stalled):.1f} KiB per stalled viewer)"
        )
        await reader.close()
        await valkey_client.aclose()
    finally:
        server.terminate()
        server.wait(timeout=20)
        valkey.stop()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--stalled", type=int, default=100)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--frame-bytes", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
