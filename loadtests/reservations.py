"""Reservations: how many a node takes a second, its CPU per reservation, and how long its
reminder loop takes to write one ``session.reminder`` per reservation.

A `live serve` on embedded defaults (SQLite, private Valkey) in a subprocess; a scheduled
session; ``--viewers`` viewers each reserve it once through a guide's share code (the touch
of the binding policy included), ``--concurrency`` requests in flight, and a quarter of them
send their request twice at once (the duplicates must come back as the same reservation).
Then the brand's lead time is set so every lead reminder is due, and the node's own loop
claims and writes them; reported: the time until the outbox holds one per reservation, and
the server process's CPU meanwhile. Loopback only.

    python -m loadtests.reservations --viewers 4000 --concurrency 64
"""

import argparse
import asyncio
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import uvloop

from live.auth import tokens
from loadtests import live_node
from loadtests.ports import free_port

BRAND = "bench"


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _token(role: str, sub: str, **claims: str) -> str:
    return tokens.mint(live_node.SECRET, sub=sub, role=role, brand=BRAND, ttl_s=3600, **claims)


def _reminders(database: Path) -> int:
    with sqlite3.connect(database) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM webhook_events WHERE type = 'session.reminder'"
        ).fetchone()
    return int(count)


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
        env |= {
            "LIVE_DATA_DIR": scratch,
            "LIVE_SECRET": live_node.SECRET,
            "LIVE_PAYMENT_SECRET": live_node.SECRET,
            "LIVE_ACCESS_LOG": "false",
            "LIVE_WRITE_RATE_PER_S": "1000000",
            "LIVE_WRITE_BURST": "1000000",
        }
        node = subprocess.Popen(live_node.serve_command(port), env=env)  # noqa: S603, ASYNC220
        try:
            await asyncio.to_thread(live_node.wait_healthy, [port])
            await _measure(args, f"http://127.0.0.1:{port}", node.pid, Path(scratch) / "live.db")
        finally:
            live_node.stop([node])


async def _measure(args: argparse.Namespace, base: str, pid: int, database: Path) -> None:
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        host = {"Authorization": f"Bearer {_token('host', 'host')}"}
        starts = int(time.time() * 1000) + 86_400_000
        created = await http.post(
            "/api/sessions", json={"title": "Preview", "starts_at": starts}, headers=host
        )
        session_id = created.json()["id"]
        guide = {"Authorization": f"Bearer {_token('guide', 'wei', store='s1')}"}
        share = await http.get(
            "/api/guides/me/share", params={"session_id": session_id}, headers=guide
        )
        code = share.json()["code"]
        gate = asyncio.Semaphore(args.concurrency)
        statuses: dict[int, int] = {}

        async def reserve(n: int) -> None:
            headers = {"Authorization": f"Bearer {_token('viewer', f'v{n}')}"}
            async with gate:
                for attempt in range(3):
                    try:
                        answer = await http.post(
                            f"/api/sessions/{session_id}/reservations",
                            json={"share": code},
                            headers=headers,
                        )
                        break
                    except httpx.TransportError:
                        # A kept-alive connection the server closed meanwhile: reserving
                        # again is safe (the same reservation comes back).
                        if attempt == 2:
                            raise
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        attempts = list(range(args.viewers)) + list(range(0, args.viewers, 4))
        cpu0, wall0 = _cpu_s(pid), time.perf_counter()
        await asyncio.gather(*(reserve(n) for n in attempts))
        wall, cpu = time.perf_counter() - wall0, _cpu_s(pid) - cpu0
        totals = await http.get(f"/api/sessions/{session_id}/reservations", headers=host)
        print(
            f"{len(attempts)} reservation requests ({args.viewers} viewers, "
            f"{len(attempts) - args.viewers} duplicates) in {wall:.2f} s: "
            f"{len(attempts) / wall:.0f}/s, server CPU {cpu * 1e3 / len(attempts):.2f} ms each; "
            f"answers {dict(sorted(statuses.items()))}; host total {totals.json()['total']}",
            flush=True,
        )

        admin = {"Authorization": f"Bearer {_token('admin', 'admin')}"}
        cpu0, wall0 = _cpu_s(pid), time.perf_counter()
        await http.put("/api/brands/me/reminders", json={"lead_s": 2 * 86_400}, headers=admin)
        while _reminders(database) < args.viewers:  # noqa: ASYNC110 - the outbox says nothing
            await asyncio.sleep(0.05)
        wall, cpu = time.perf_counter() - wall0, _cpu_s(pid) - cpu0
        await asyncio.sleep(3)  # a few more passes: none may add a reminder
        print(
            f"{args.viewers} lead reminders written in {wall:.2f} s "
            f"({args.viewers / wall:.0f}/s), server CPU {cpu * 1e3 / args.viewers:.3f} ms each; "
            f"reminders after 3 s more: {_reminders(database)}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--viewers", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
