"""Fan-out benchmark: one room workload against this server and its peers, side by side.

For each target it starts the server alone on core 0 (``taskset``, when available), a private
Valkey for the targets that use Redis, and the load generator (`loadtests/fanout/viewers.py`)
on core 1: N viewers in one room, a comment flood of C/s and stock updates (coalesced per
200 ms tick, at most K=20 comments per frame) and pins (durable, sent at once). It prints
deliveries per second, server CPU time per delivery (utime+stime from /proc), p50/p99 latency
of pins and of comments inside tick frames, and ratios against the floor and python-socketio.

Targets: ``live`` (this server, events published onto its session streams), ``sio``
(python-socketio + AsyncRedisManager on uvicorn), ``node`` (socket.io + redis-adapter),
``starlette`` (sequential send loop on uvicorn), ``floor`` (one pre-built frame written to
every transport). Peers come from `loadtests/setup_peers.sh`. Loopback only; every process
started here is stopped here. Example:

    python -m loadtests.fanout --viewers 2000 --comments-per-s 200 --pins-per-s 5 --duration 20
"""

import argparse
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

from live import auth
from live.embedded_valkey import EmbeddedValkey

SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 - a loopback benchmark's key
HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
TARGETS = ("live", "sio", "node", "starlette", "floor")
USES_REDIS = ("live", "sio", "node")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pinned(core: int, command: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core), *command] if taskset else command


def _server_command(target: str, port: int, redis_url: str, args: argparse.Namespace) -> list[str]:
    tick = [f"--tick-ms={args.tick_ms}", f"--comments-per-tick={args.comments_per_tick}"]
    if target == "live":
        return [str(Path(sys.executable).parent / "live"), "serve", "--port", str(port)]
    if target == "sio":
        script = str(HERE / "fanout" / "sio_server.py")
        python = str(PEERS / "sio" / "bin" / "python")
        return [python, script, f"--port={port}", f"--redis-url={redis_url}", *tick]
    if target == "node":
        script = str(HERE / "fanout" / "sio_server.js")
        return [
            "node",
            script,
            str(port),
            redis_url,
            str(args.tick_ms),
            str(args.comments_per_tick),
        ]
    script = str(HERE / "fanout" / f"{target}_server.py")
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


def _live_session(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while httpx.get(f"{base}/healthz").status_code != 200:
        if time.monotonic() > end:
            raise RuntimeError("live serve did not become healthy")
        time.sleep(0.2)
    host = auth.mint(SECRET, sub="host", role="host", brand="bench")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {host}"}) as client:
        session_id: str = client.post("/api/sessions", json={"title": "fanout"}).json()["id"]
        client.post(f"/api/sessions/{session_id}/start").raise_for_status()
    return session_id


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_target(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start one target, drive it with the load generator, stop everything, return figures."""
    data = Path(tempfile.mkdtemp(prefix=f"bench-fanout-{target}-"))
    valkey = EmbeddedValkey(data / "valkey", persistent=False) if target in USES_REDIS else None
    server: subprocess.Popen[bytes] | None = None
    load = os.getloadavg()[0]
    try:
        redis_url, redis_pid = "", 0
        if valkey is not None:
            valkey.start()
            redis_url, redis_pid = valkey.url, valkey.pid or 0
            if shutil.which("taskset"):
                # Redis shares the load generator's core: the server's core is its own.
                command = [shutil.which("taskset") or "taskset", "-pc", "1", str(redis_pid)]
                subprocess.run(command, check=True, capture_output=True)  # noqa: S603
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
        env |= {
            "LIVE_DATA_DIR": str(data),
            "LIVE_REDIS_URL": redis_url,
            "LIVE_SECRET": SECRET,
            "LIVE_PAYMENT_SECRET": SECRET,
            # Every simulated viewer comes from 127.0.0.1: lift the per-address socket cap.
            "LIVE_MAX_SOCKETS_PER_IP": "1000000",
            "LIVE_TICK_MS": str(args.tick_ms),
            "LIVE_COMMENTS_PER_TICK": str(args.comments_per_tick),
            "NODE_PATH": str(PEERS / "node" / "node_modules"),
        }
        server = subprocess.Popen(  # noqa: S603 - fixed commands
            _pinned(0, _server_command(target, port, redis_url, args)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(data / "server.log", "wb"),  # noqa: SIM115 - kept for the run
        )
        _wait_port(port)
        session_id = _live_session(port) if target == "live" else ""
        generator = _pinned(1, [sys.executable, str(HERE / "fanout" / "viewers.py")])
        options = {
            "target": target,
            "port": port,
            "server-pids": server.pid,
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
        }
        generator += [f"--{k}={v}" for k, v in options.items()]
        # Joining a live room costs the server far more than a peer's accept (snapshot from the
        # record): ~60 joins/s here, so the budget grows with N.
        budget = 120 + args.warmup + args.duration + args.viewers / 25
        try:
            done = subprocess.run(generator, capture_output=True, check=False, timeout=budget)  # noqa: S603
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"load generator timed out after {budget:.0f} s") from exc
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed: {done.stderr.decode()[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout)
        result["load_before"] = round(load, 2)
        return result
    finally:
        if server is not None:
            _stop(server)
        if valkey is not None:
            valkey.stop()
        shutil.rmtree(data, ignore_errors=True)


def _us_per_delivery(result: dict[str, Any], key: str = "server_cpu_s") -> float | None:
    if not result.get("deliveries") or result.get(key) is None:
        return None
    return float(result[key]) / result["deliveries"] * 1e6


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    """A Markdown table of the figures and ratios."""
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
    for target, r in results.items():
        if "error" in r:
            lines.append(f"| {target} | failed: {r['error']} |")
            continue
        cost = _us_per_delivery(r)
        window = r["window_s"]
        lines.append(
            f"| {target} | {_fmt(r['deliveries'] / window, 0)} | {_fmt(cost, 2)} "
            f"| {_fmt(cost / floor if cost and floor else None, 2)} "
            f"| {_fmt(cost / sio if cost and sio else None, 2)} "
            f"| {_fmt(_us_per_delivery(r, 'redis_cpu_s'), 2)} "
            f"| {_fmt(r['pin_p50_ms'])} / {_fmt(r['pin_p99_ms'])} "
            f"| {_fmt(r['tick_p50_ms'])} / {_fmt(r['tick_p99_ms'])} "
            f"| {_fmt(100 * r['server_cpu_s'] / window, 0)} "
            f"| {_fmt(100 * r['loadgen_cpu_s'] / window, 0)} | {r['load_before']} "
            f"| {r['closed_during_run']} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run every target in turn, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated")
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=50, help="viewers that record latency")
    parser.add_argument("--comments-per-s", type=float, default=200)
    parser.add_argument("--stock-per-s", type=float, default=10)
    parser.add_argument("--pins-per-s", type=float, default=5)
    parser.add_argument("--duration", type=float, default=20, help="measured window, seconds")
    parser.add_argument("--warmup", type=float, default=3, help="publishing before the window")
    parser.add_argument("--tick-ms", type=int, default=200)
    parser.add_argument("--comments-per-tick", type=int, default=20)
    parser.add_argument("--json-out", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
