"""A join's server CPU, alone: the quick measure to compare two versions of the join path.

One `live serve` on embedded defaults with a live session; ``--viewers`` room sockets opened by
this process, ``--at-once`` handshakes in flight; the node's user and system CPU over the joins
(from ``/proc``) divided by the joins.
No host, no other phase: `loadtests/join_storm.py` measures the storms themselves. The
figures of one run move by about a tenth from one run to the next on this machine: compare two
versions by alternating runs of each (``PYTHONPATH`` pointing at a worktree of the other).

    python -m loadtests.join_cost --viewers 8000
"""

import argparse
import asyncio
import os
from pathlib import Path

from loadtests import sale_servers, ws_attack


def _user_and_system_s(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def measure(viewers: int, at_once: int) -> dict[str, float]:
    """Open ``viewers`` room sockets; the node's CPU per join, user and system apart (ms)."""
    async with sale_servers.live_serve(None, 1) as server:
        session_id, _ = await sale_servers.open_sale(server.http, 1)
        pid = server.pids[0]
        await asyncio.sleep(1)  # start-up's own work done
        paths = [
            f"/ws/sessions/{session_id}?token={sale_servers.viewer_token(n)}"
            for n in range(viewers)
        ]
        user_before, system_before = _user_and_system_s(pid)
        started = asyncio.get_running_loop().time()
        sockets = await ws_attack.connect_all(server.port, paths, at_once=at_once)
        seconds = asyncio.get_running_loop().time() - started
        user, system = _user_and_system_s(pid)
        for socket in sockets:
            socket.close()
    joined = len(sockets)
    return {
        "joined": joined,
        "seconds": round(seconds, 2),
        "user_ms_per_join": round((user - user_before) * 1000 / joined, 3),
        "system_ms_per_join": round((system - system_before) * 1000 / joined, 3),
        "cpu_ms_per_join": round((user - user_before + system - system_before) * 1000 / joined, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=8000)
    parser.add_argument("--at-once", type=int, default=500, help="handshakes in flight")
    args = parser.parse_args()
    print(asyncio.run(measure(args.viewers, args.at_once)))


if __name__ == "__main__":
    main()
