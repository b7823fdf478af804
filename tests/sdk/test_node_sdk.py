"""The SDK as a package: `npm pack` makes a tarball, installed into a fresh project it is
imported as an ES module and through require(), and Node's own test runner drives it against
a real `live serve` (join, recover with since, buy, errors).

Without ``node`` and ``npm`` on the PATH these tests skip, saying so; with
``LIVE_TEST_REQUIRE_BROWSER=1`` (CI) they fail instead, like the page tests.
"""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live.auth import tokens
from tests.support.ports import free_port
from tests.support.servers import PAYMENT_SECRET, SECRET
from tests.support.units import UNIT_S

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sdk" / "live-client"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"no {name} on the PATH (Node.js 18+) for the SDK package tests"
        if os.environ.get("LIVE_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and LIVE_TEST_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return path


def _run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 - fixed argv of node and npm
        argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A fresh project with the package installed from its `npm pack` tarball (offline)."""
    npm = _tool("npm")
    _tool("node")
    packed = _run([npm, "pack", "--pack-destination", str(tmp_path)], PACKAGE)
    tarball = tmp_path / packed.stdout.strip().splitlines()[-1]
    assert tarball.is_file(), packed.stdout
    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text('{"name": "sdk-user", "private": true}\n')
    _run(
        [npm, "install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", str(tarball)],
        project,
    )
    installed = project / "node_modules" / "live-client"
    assert sorted(p.name for p in (installed / "dist").iterdir()) == [
        "index.d.mts",
        "index.d.ts",
        "index.js",
        "index.mjs",
    ]
    shutil.copy(PACKAGE / "test" / "room.test.mjs", project / "room.test.mjs")
    return project


@pytest.fixture
def live_serve(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[str]:
    """A `live serve` process on the suite's engines; yields its base URL."""
    live = str(Path(sys.executable).parent / "live")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVE_")},
        "LIVE_DATA_DIR": str(tmp_path / "node"),
        "LIVE_DATABASE_URL": database_url,
        "LIVE_REDIS_URL": redis_url,
        "LIVE_ARCHIVE_URL": (tmp_path / "archive").as_uri(),
        "LIVE_SECRET": SECRET,
        "LIVE_PAYMENT_SECRET": PAYMENT_SECRET,
        "LIVE_LOG_FORMAT": "text",
        "LIVE_WRITE_RATE_PER_S": "1000",
        "LIVE_WRITE_BURST": "1000",
    }
    subprocess.run([live, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own program
        [live, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60 * UNIT_S
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=UNIT_S).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "live serve did not become ready"
            time.sleep(0.05)  # polling the server's port until it answers
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_packed_sdk_passes_its_node_tests_against_live_serve(
    installed: Path, live_serve: str
) -> None:
    """`node --test` on the installed package: every test passes against the real server."""
    brand = "sdk-brand"
    done = _run(
        [shutil.which("node") or "node", "--experimental-websocket", "--test", "room.test.mjs"],
        installed,
        LIVE_BASE_URL=live_serve,
        LIVE_HOST_TOKEN=tokens.mint(SECRET, sub="host-1", role="host", brand=brand),
        LIVE_VIEWER_TOKEN=tokens.mint(SECRET, sub="viewer-1", role="viewer", brand=brand),
    )
    assert "# fail 0" in done.stdout, done.stdout
    assert "# pass 6" in done.stdout, done.stdout
