"""``live demo``: a real process on embedded engines that seeds a brand and a live session,
prints the three pages' URLs, animates the room with simulated viewers and stops cleanly; with
``--lang zh-CN`` its pages speak Simplified Chinese."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.support.polling import eventually_sync
from tests.support.ports import free_port
from tests.support.units import UNIT_S

URL_LINE = re.compile(r"^\s+(host panel|guide workspace|viewer)\s+(http://\S+)$")


def _lines(stream: IO[str], into: "queue.Queue[str]") -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def _wait_for_urls(lines: "queue.Queue[str]", process: subprocess.Popen[str]) -> dict[str, str]:
    urls: dict[str, str] = {}
    deadline = time.monotonic() + 90 * UNIT_S
    while len(urls) < 3:
        assert process.poll() is None, f"live demo exited with {process.returncode}"
        assert time.monotonic() < deadline, f"no URLs printed; got {urls}"
        try:
            line = lines.get(timeout=UNIT_S)
        except queue.Empty:
            continue
        match = URL_LINE.match(line)
        if match:
            urls[match.group(1)] = match.group(2)
    return urls


def test_demo_serves_seeded_pages_with_live_viewers_and_stops_cleanly(tmp_path: Path) -> None:
    """The printed host, guide and viewer URLs answer, in the brand's language (``--lang``);
    the simulated viewers show up in the session's figures (viewers seen, likes); SIGTERM ends
    the process with status 0."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVE_")}
    env["LIVE_DATA_DIR"] = str(tmp_path / "demo")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        [
            sys.executable,
            "-m",
            "live.cli.main",
            "demo",
            "--port",
            str(port),
            "--viewers",
            "3",
            "--lang",
            "zh-CN",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        urls = _wait_for_urls(lines, process)
        with httpx.Client(timeout=10 * UNIT_S) as client:
            for name, url in urls.items():
                page = client.get(url)
                assert page.status_code == 200, (name, page.status_code)
                assert "<title" in page.text
                assert '<html lang="zh-CN">' in page.text, name
                assert urlparse(url).port == port
            host_query = parse_qs(urlparse(urls["host panel"]).query)
            session_id, host_token = host_query["session"][0], host_query["token"][0]
            stats_url = f"http://127.0.0.1:{port}/api/sessions/{session_id}/stats"
            headers = {"Authorization": f"Bearer {host_token}"}
            stats: dict[str, Any] = {}

            def animated() -> bool:
                stats.update(client.get(stats_url, headers=headers).json())
                return bool(stats["viewers_seen"] >= 3 and stats["likes"] > 0)

            eventually_sync(
                animated,
                timeout_s=60 * UNIT_S,
                what="the simulated viewers in the session's figures",
                poll_s=0.2,
            )
            assert len(stats["stock"]) == 6  # the coat in three sizes, three more products
            signed_in = client.post(
                f"http://127.0.0.1:{port}/api/dev/signin", json={"role": "host", "sub": "x"}
            )
            assert signed_in.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30 * UNIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
