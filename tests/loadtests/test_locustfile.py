"""The locust scenarios run headless against the real app (skipped without the load extra).

Locust is run as a child process, never imported here: importing it monkey-patches the
standard library for gevent, which the suite's asyncio event loop must not see.
"""

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import PAYMENT_SECRET, SECRET, LiveServer
from tests.support.units import UNIT_S

LOCUST = Path(sys.executable).parent / "locust"
LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
#: Answers a loaded machine may give that are not defects: an order racing a flash sale's
#: open or close after three retries on fresh terms (docs/architecture.md 4.7).
TOLERATED = {"503 sale_paused"}

pytestmark = pytest.mark.skipif(not LOCUST.exists(), reason="the load extra is not installed")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def test_every_scenario_runs_against_the_app(server: LiveServer, tmp_path: Path) -> None:
    """Viewers join and get acks, buyers order and pay, the host's actions reach viewers."""
    prefix = tmp_path / "run"
    env = {
        **os.environ,
        "LIVE_SECRET": SECRET,
        "LIVE_PAYMENT_SECRET": PAYMENT_SECRET,
        "LOAD_BRAND": server.brand,
    }
    process = await asyncio.create_subprocess_exec(
        str(LOCUST),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users=10",
        "--spawn-rate=10",
        "--run-time=8s",
        "--stop-timeout=5",
        "--only-summary",
        f"--host={server.base_url}",
        f"--csv={prefix}",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(90 * UNIT_S):
        _, stderr = await process.communicate()
    stats = _rows(tmp_path / "run_stats.csv")
    assert stats, stderr.decode()[-2000:]
    counts = {(row["Type"], row["Name"]): int(row["Request Count"]) for row in stats}
    assert counts[("WS connect", "join")] >= 1
    assert counts[("WS frame", "snapshot")] == counts[("WS connect", "join")]
    assert counts.get(("WS ack", "comment"), 0) + counts.get(("WS ack", "like"), 0) >= 1
    assert counts[("POST", "/api/sessions/[id]/orders")] >= 1
    assert counts[("POST", "/api/payments/notify")] >= 1
    durable = [name for (kind, name) in counts if kind == "WS event"]
    assert durable, counts
    failures = _rows(tmp_path / "run_failures.csv")
    unexpected = [row for row in failures if row["Error"] not in TOLERATED]
    assert not unexpected, unexpected
