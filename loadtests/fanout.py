"""Fan-out benchmark: one room workload against this server and its peers, side by side.

For each target it starts the server alone on core 0 (``taskset``, when available), a private
Valkey for the targets that use Redis, and the load generator (`loadtests/room_viewers.py`)
on core 1: N viewers in one room, a comment flood of C/s and stock updates (coalesced per
200 ms tick, at most 20 comments per frame) and pins (durable, sent at once). It prints
deliveries per second, server CPU time per delivery (utime+stime from /proc), p50/p99 latency
of pins and of comments inside tick frames, and ratios against the floor and python-socketio.

Targets: ``live`` (this server, events published onto its session streams), ``sio``
(python-socketio + AsyncRedisManager on uvicorn), ``node`` (socket.io + redis-adapter),
``starlette`` (sequential send loop on uvicorn), ``floor`` (one pre-built frame written to
every transport). Peers come from `loadtests/setup_peers.sh`. Loopback only; every process
started here is stopped here. Example:

    python -m loadtests.fanout --viewers 2000 --comments-per-s 200 --pins-per-s 5 --duration 20

``--nodes K`` runs the ``live`` target as K ``live serve`` processes on their own ports over the
same private Valkey, the same record (a SQLite file in the run's directory, migrated once with
``live db upgrade``, or ``--database-url``) and the same archive directory; the session is
created through node 1 and viewer n joins node n mod K. Every node is pinned to a core of
``--node-cores`` in turn (default: all on core 0, the server's core at K = 1, so the server
side has one core whatever K). Whatever K, the sampled viewers' pins are checked for one
identical order (`loadtests/durable_order.py`); a violation exits with status 1.
"""

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from live.auth import tokens
from live.platform.embedded_valkey import EmbeddedValkey
from loadtests import live_node
from loadtests.live_node import SECRET, pinned
from loadtests.ports import free_ports

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
TARGETS = ("live", "sio", "node", "starlette", "floor")
USES_REDIS = ("live", "sio", "node")


def _server_command(target: str, port: int, redis_url: str, args: argparse.Namespace) -> list[str]:
    tick = [f"--tick-ms={args.tick_ms}", f"--comments-per-tick={args.comments_per_tick}"]
    if target == "live":
        return live_node.serve_command(port)
    if target == "sio":
        script = str(HERE / "peers" / "sio_server.py")
        python = str(PEERS / "sio" / "bin" / "python")
        return [python, script, f"--port={port}", f"--redis-url={redis_url}", *tick]
    if target == "node":
        script = str(HERE / "peers" / "sio_server.js")
        return [
            "node",
            script,
            str(port),
            redis_url,
            str(args.tick_ms),
            str(args.comments_per_tick),
        ]
    script = str(HERE / "peers" / f"{target}_server.py")
    return [sys.executable, script, f"--port={port}", *tick]


def _wait_port(port: int, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


def _live_session(ports: list[int]) -> str:
    """Wait until every node is healthy, then create and start the session through node 1."""
    live_node.wait_healthy(ports)
    base = f"http://127.0.0.1:{ports[0]}"
    host = tokens.mint(SECRET, sub="host", role="host", brand="bench")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {host}"}) as client:
        session_id: str = client.post("/api/sessions", json={"title": "fanout"}).json()["id"]
        client.post(f"/api/sessions/{session_id}/start").raise_for_status()
    return session_id


def _shared_record(env: dict[str, str], data: Path, database_url: str | None) -> dict[str, str]:
    """The record and archive every node of a run shares, with the schema applied once.

    SQLite works for several processes on one host: `live/db/engine.py` opens it in WAL mode
    with a 30 s busy timeout, and this workload writes to it only to create and start the
    session. What does not work is K nodes creating the file at once: each embedded start-up
    migrates the schema, and concurrent first migrations race; `live db upgrade` here first
    makes every node's own migration a no-op.
    """
    shared = {
        "LIVE_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{data / 'live.db'}",
        "LIVE_ARCHIVE_URL": (data / "archive").as_uri(),
    }
    live_node.upgrade(env | shared, shared["LIVE_DATABASE_URL"])
    return shared


def run_target(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start one target, drive it with the load generator, stop everything, return figures."""
    data = Path(tempfile.mkdtemp(prefix=f"bench-fanout-{target}-"))
    valkey = EmbeddedValkey(data / "valkey", persistent=False) if target in USES_REDIS else None
    servers: list[subprocess.Popen[bytes]] = []
    nodes = args.nodes if target == "live" else 1
    load = os.getloadavg()[0]
    with contextlib.ExitStack() as logs:
        try:
            redis_url, redis_pid = "", 0
            if valkey is not None:
                valkey.start()
                redis_url, redis_pid = valkey.url, valkey.pid or 0
                # Redis shares the load generator's core: the server's core is its own.
                live_node.pin_pid(1, redis_pid)
            env = live_node.node_env(
                data,
                redis_url,
                {
                    "LIVE_TICK_MS": str(args.tick_ms),
                    "LIVE_COMMENTS_PER_TICK": str(args.comments_per_tick),
                    "NODE_PATH": str(PEERS / "node" / "node_modules"),
                },
            )
            if target == "live":
                env |= _shared_record(env, data, args.database_url)
            ports = free_ports(nodes)
            for n, port in enumerate(ports):
                # Each node keeps its own data directory (its archive spool); K = 1 keeps the
                # run's directory, as before.
                node_env = env | ({"LIVE_DATA_DIR": str(data / f"node-{n + 1}")} if n else {})
                log = logs.enter_context(open(data / f"server-{n + 1}.log", "wb"))
                core = args.node_cores[n % len(args.node_cores)]
                servers.append(
                    subprocess.Popen(  # noqa: S603 - fixed commands
                        pinned(core, _server_command(target, port, redis_url, args)),
                        env=node_env,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
            for port in ports:
                _wait_port(port)
            session_id = _live_session(ports) if target == "live" else ""
            generator = pinned(1, [sys.executable, "-m", "loadtests.room_viewers"])
            options = {
                "target": target,
                "ports": ",".join(map(str, ports)),
                "server-pids": ",".join(str(server.pid) for server in servers),
                "redis-pid": redis_pid,
                "redis-url": redis_url,
                "session-id": session_id,
                "secret": SECRET,
                "viewers": args.viewers,
                "samples": args.samples,
                "comments-per-s": args.comments_per_s,
                "stock-per-s": args.stock_per_s,
                "pins-per-s": args.pins_per_s,
                "duration": args.duration,
                "warmup": args.warmup,
                "drain-s": args.drain_s,
            }
            generator += [f"--{k}={v}" for k, v in options.items()]
            # Joining a live room costs the server far more than a peer's accept (snapshot from
            # the record): ~60 joins/s here, so the budget grows with N.
            budget = 120 + args.warmup + args.duration + args.drain_s + args.viewers / 25
            # The generator is a module of this checkout: put it on the generator's path.
            generator_env = os.environ | {"PYTHONPATH": str(HERE.parent)}
            try:
                done = subprocess.run(  # noqa: S603
                    generator,
                    capture_output=True,
                    check=False,
                    timeout=budget,
                    env=generator_env,
                )
            except subprocess.TimeoutExpired as exc:
                raise RuntimeError(f"load generator timed out after {budget:.0f} s") from exc
            if done.returncode != 0:
                raise RuntimeError(f"load generator failed: {done.stderr.decode()[-2000:]}")
            result: dict[str, Any] = json.loads(done.stdout)
            result["load_before"] = round(load, 2)
            return result
        finally:
            live_node.stop(servers)
            if valkey is not None:
                valkey.stop()
            shutil.rmtree(data, ignore_errors=True)


def _us_per_delivery(result: dict[str, Any], key: str = "server_cpu_s") -> float | None:
    if not result.get("deliveries") or result.get(key) is None:
        return None
    return float(result[key]) / float(result["deliveries"]) * 1e6


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _row(name: str, r: dict[str, Any], window: float, shared: list[str]) -> str:
    """One table row; ``shared`` fills the columns a single node of several has no figure for
    (ratios, Redis, load generator, load average)."""
    cost = _us_per_delivery(r)
    return " | ".join(
        [
            f"| {name}",
            _fmt(r["deliveries"] / window, 0),
            _fmt(cost, 2),
            *shared[:3],
            f"{_fmt(r['pin_p50_ms'])} / {_fmt(r['pin_p99_ms'])}",
            f"{_fmt(r['tick_p50_ms'])} / {_fmt(r['tick_p99_ms'])}",
            _fmt(100 * r["server_cpu_s"] / window, 0),
            *shared[3:],
            f"{r['closed_during_run']} |",
        ]
    )


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    """A Markdown table of the figures and ratios, a row per node too, and the order check."""
    expected = args.viewers * (1000 / args.tick_ms + args.pins_per_s)
    floor = _us_per_delivery(results["floor"]) if "floor" in results else None
    sio = _us_per_delivery(results["sio"]) if "sio" in results else None
    lines = [
        f"viewers {args.viewers}, comments {args.comments_per_s}/s, stock {args.stock_per_s}/s, "
        f"pins {args.pins_per_s}/s, window {args.duration} s; expected about {expected:,.0f} "
        "deliveries/s (one tick frame per tick plus every pin, per viewer)",
        "",
        "| target | deliveries/s | server CPU us/delivery | x floor | x sio "
        "| redis CPU us/delivery | pin p50 / p99 ms | tick p50 / p99 ms | server CPU % "
        "| loadgen CPU % | load avg | closed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    orders = []
    for target, r in results.items():
        if "error" in r:
            lines.append(f"| {target} | failed: {r['error']} |")
            continue
        cost = _us_per_delivery(r)
        window = r["window_s"]
        nodes = r.get("nodes", 1)
        name = f"{target}, {nodes} nodes" if nodes > 1 else target
        shared = [
            _fmt(cost / floor if cost and floor else None, 2),
            _fmt(cost / sio if cost and sio else None, 2),
            _fmt(_us_per_delivery(r, "redis_cpu_s"), 2),
            _fmt(100 * r["loadgen_cpu_s"] / window, 0),
            str(r["load_before"]),
        ]
        lines.append(_row(name, r, window, shared))
        if nodes > 1:
            for n, node in enumerate(r["per_node"], start=1):
                lines.append(_row(f"{target}, node {n}", node, window, [""] * 5))
        orders.append(f"- {name}: pin order {r['order']['summary']}")
    return "\n".join([*lines, "", *orders])


def _cores(text: str) -> list[int]:
    try:
        cores = [int(core) for core in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated list of cores") from None
    if not cores or min(cores) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated list of cores")
    return cores


def main() -> None:
    """Parse arguments, run every target in turn, print the table; status 1 on a broken order."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated")
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=50, help="viewers that record latency")
    parser.add_argument("--comments-per-s", type=float, default=200)
    parser.add_argument("--stock-per-s", type=float, default=10)
    parser.add_argument("--pins-per-s", type=float, default=5)
    parser.add_argument("--duration", type=float, default=20, help="measured window, seconds")
    parser.add_argument("--warmup", type=float, default=3, help="publishing before the window")
    parser.add_argument("--drain-s", type=float, default=10, help="wait for the last pin, s")
    parser.add_argument("--tick-ms", type=int, default=200)
    parser.add_argument("--comments-per-tick", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=1, help="live serve processes (live only)")
    parser.add_argument(
        "--node-cores",
        type=_cores,
        default=[0],
        help="cores the nodes are pinned to in turn (default 0: all on core 0)",
    )
    parser.add_argument(
        "--database-url",
        help="the nodes' shared record (default: a SQLite file in the run's directory); "
        "migrated with `live db upgrade`, sessions are left in it: use a scratch database",
    )
    parser.add_argument("--json-out", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    results: dict[str, dict[str, Any]] = {}
    for target in args.targets.split(","):
        print(f"fanout: {target} ...", file=sys.stderr, flush=True)
        try:
            results[target] = run_target(target, args)
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
            results[target] = {"error": str(exc)[-300:]}
        print(f"fanout: {target}: {json.dumps(results[target])}", file=sys.stderr, flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    print(report(results, args))
    broken = [t for t, r in results.items() if "order" in r and not r["order"]["ok"]]
    if broken:
        print(f"fanout: PIN ORDER VIOLATED for {', '.join(broken)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
