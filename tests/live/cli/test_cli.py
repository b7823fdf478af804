"""The ``live`` command as a user runs it: a real process, real signals, real engines."""

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import jwt
import orjson
import pytest
import redis

from inventory import keys as inventory_keys
from live.db import migrate
from tests.live.cli.command import LIVE, live_env, run_live
from tests.support.polling import eventually_sync
from tests.support.ports import free_port
from tests.support.processes import alive, children, pids
from tests.support.units import UNIT_S


def _valkeys_of(data_dir: Path) -> list[int]:
    """Running valkey-server processes working in ``data_dir`` (whoever their parent is)."""
    # Valkey rewrites its command line to "valkey-server host:port", so the working directory
    # (the embedded server runs in <data_dir>/valkey) is what identifies ours.
    found = []
    for pid in pids():
        with suppress(OSError):
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            if comm == "valkey-server" and cwd == data_dir / "valkey" and alive(pid):
                found.append(pid)
    return found


def _kill_valkeys_of(data_dir: Path) -> None:
    for pid in _valkeys_of(data_dir):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Served:
    """A ``live serve`` process on a free port."""

    def __init__(self, process: "subprocess.Popen[bytes]", port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        """True when GET /healthz answers 200; fails at once if the process has exited."""
        if self.process.poll() is not None:
            raise AssertionError(f"live serve exited {self.process.returncode}: {self.output()}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=UNIT_S).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(errors="replace")

    def valkey_child(self) -> int:
        """The pid of the one valkey-server this process spawned."""
        spawned = [
            pid
            for pid in children(self.process.pid)
            if Path(f"/proc/{pid}/comm").read_text().strip() == "valkey-server"
        ]
        assert len(spawned) == 1, spawned
        return spawned[0]

    def wait_exit(self) -> int:
        """The exit status, waiting up to 15 units."""
        return self.process.wait(timeout=15 * UNIT_S)


@contextmanager
def serving(data_dir: Path, **settings: str) -> Iterator[Served]:
    """Run ``live serve`` until healthy; kill it (and any Valkey it left) on the way out."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(LIVE), "serve", "--port", str(port)],
            env=live_env(data_dir, **settings),
            stdout=sink,
            stderr=subprocess.STDOUT,
            # Its own process group, so a test can send Ctrl-C to it the way a terminal does.
            process_group=0,
        )
    try:
        served = Served(process, port, log)
        eventually_sync(served.healthy, timeout_s=30 * UNIT_S, what="GET /healthz answers 200")
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        _kill_valkeys_of(data_dir)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory that does not exist yet, as on a first start."""
    return tmp_path / "data"


def _secrets(data_dir: Path) -> dict[str, str]:
    stored: dict[str, str] = orjson.loads((data_dir / "secrets.json").read_bytes())
    return stored


def _mint(data_dir: Path, *args: str) -> str:
    done = run_live(live_env(data_dir), "token", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _send_sigterm(process: "subprocess.Popen[bytes]") -> None:
    process.send_signal(signal.SIGTERM)


def _press_ctrl_c(process: "subprocess.Popen[bytes]") -> None:
    # A terminal sends SIGINT to the whole foreground process group.
    os.killpg(process.pid, signal.SIGINT)


@pytest.mark.parametrize("stop", [_send_sigterm, _press_ctrl_c], ids=["sigterm", "ctrl-c"])
def test_serve_stops_its_valkey_on_signal(
    data_dir: Path, stop: Callable[["subprocess.Popen[bytes]"], None]
) -> None:
    """Embedded `live serve` is healthy, owns one Valkey child, and exits 0 taking it along."""
    with serving(data_dir) as served:
        body = httpx.get(f"{served.base_url}/healthz", timeout=5 * UNIT_S).json()
        assert body["status"] == "ok"
        valkey = served.valkey_child()
        assert _valkeys_of(data_dir) == [valkey]
        stop(served.process)
        assert served.wait_exit() == 0, served.output()
        assert not alive(valkey)
        assert "Traceback" not in served.output()
        # The app stops its Valkey (SIGTERM) after draining; the signal itself never reaches it.
        assert "Received SIGINT" not in (data_dir / "valkey" / "valkey.log").read_text()


def test_valkey_dies_with_a_killed_server(data_dir: Path) -> None:
    """SIGKILL of `live serve` (no shutdown code runs) still ends its Valkey (PDEATHSIG)."""
    with serving(data_dir) as served:
        valkey = served.valkey_child()
        served.process.kill()
        served.process.wait()
        eventually_sync(lambda: not alive(valkey), timeout_s=5 * UNIT_S, what="Valkey is gone")


def test_restart_keeps_stock_from_the_append_only_file(data_dir: Path) -> None:
    """Stock loaded before a SIGTERM is served again after a restart on the same data dir."""
    with serving(data_dir) as served:
        token = _mint(data_dir, "--role", "host", "--brand", "acme", "--sub", "alice")
        with httpx.Client(
            base_url=served.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10 * UNIT_S,
        ) as client:
            created = client.post("/api/sessions", json={"title": "t"})
            assert created.status_code == 201, created.text
            session_id = created.json()["id"]
            product = {"sku": "A", "title": "A", "price_cents": 100, "stock": 7}
            added = client.post(f"/api/sessions/{session_id}/products", json=product)
            assert added.status_code == 201, added.text
            product_id = added.json()["product_id"]
        served.process.send_signal(signal.SIGTERM)
        assert served.wait_exit() == 0, served.output()

    with serving(data_dir) as served:
        # The API falls back to the record's allocation when Redis has no level, so read
        # the private Valkey itself too: the level must have come back from its AOF.
        config = (data_dir / "valkey" / "valkey.conf").read_text()
        port = int(config.split("\nport ", 1)[1].split()[0])
        with redis.Redis(port=port) as valkey:
            level = valkey.hget(inventory_keys.stock(session_id), product_id)
        assert level == b"7"
        answer = httpx.get(
            f"{served.base_url}/api/sessions/{session_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10 * UNIT_S,
        )
        assert answer.status_code == 200, answer.text
        products = answer.json()["products"]
        assert [p["product_id"] for p in products] == [product_id]
        assert products[0]["stock"] == 7


SHARED_SECRETS = {
    "LIVE_SECRET": "shared-secret-0123456789abcdef0123456789",
    "LIVE_PAYMENT_SECRET": "shared-payment-secret-0123456789abcdef",
}


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("LIVE_REDIS_URL", "redis://127.0.0.1:1/0"),
        ("LIVE_REDIS_URL", "redis://127.0.0.1:notaport/0"),
        ("LIVE_DATABASE_URL", "mysql://x"),
        ("LIVE_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/x"),
        ("LIVE_ARCHIVE_URL", "ftp://x"),
        ("LIVE_SECRET", "too-short"),
    ],
    ids=["redis-unreachable", "redis-bad-port", "db-scheme", "db-unreachable", "archive", "secret"],
)
def test_bad_setting_stops_start_up_in_one_line(data_dir: Path, setting: str, value: str) -> None:
    """A bad or unreachable engine exits 2 with one line naming the setting, nothing left."""
    extra = dict(SHARED_SECRETS) if setting == "LIVE_REDIS_URL" else {}
    done = run_live(
        live_env(data_dir, **{setting: value}, **extra), "serve", "--port", str(free_port())
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"live: error: {setting}"), lines[0]
    assert _valkeys_of(data_dir) == []


def test_token_carries_the_requested_claims(data_dir: Path) -> None:
    """`live token` signs sub/role/brand/exp (+name/store) with the data dir's secret."""
    before = int(time.time())
    token = _mint(
        data_dir,
        *("--role", "guide", "--brand", "acme", "--sub", "g1"),
        *("--name", "Gina", "--store", "s-9", "--ttl-s", "600"),
    )
    claims = jwt.decode(token, _secrets(data_dir)["secret"], algorithms=["HS256"])
    exp = claims.pop("exp")
    assert claims == {"sub": "g1", "role": "guide", "brand": "acme", "name": "Gina", "store": "s-9"}
    assert before + 600 <= exp <= int(time.time()) + 600

    plain = _mint(data_dir, "--role", "viewer", "--brand", "acme", "--sub", "v1")
    claims = jwt.decode(plain, _secrets(data_dir)["secret"], algorithms=["HS256"])
    assert set(claims) == {"sub", "role", "brand", "exp"}


def test_token_refuses_an_unknown_role(data_dir: Path) -> None:
    """`live token --role` accepts only the contract's roles (argparse exits 2)."""
    done = run_live(live_env(data_dir), "token", "--role", "root", "--brand", "acme", "--sub", "x")
    assert done.returncode == 2
    assert "invalid choice: 'root'" in done.stderr
    assert done.stdout == ""


def test_db_upgrade_creates_the_sqlite_schema(tmp_path: Path) -> None:
    """`live db upgrade` migrates a fresh SQLite file to head and prints the revision."""
    database = tmp_path / "fresh.db"
    env = live_env(tmp_path / "data", LIVE_DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    done = run_live(env, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    head = migrate.head_revision()
    assert done.stdout.strip() == f"live: database at revision {head}"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {name for (name,) in rows}
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    connection.close()
    assert {"sessions", "products", "orders", "coupons", "payments"} <= tables
    assert version == head


def test_db_upgrade_on_postgres(tmp_path: Path, postgres_ready: str | None) -> None:
    """`live db upgrade` succeeds on PostgreSQL (a no-op when already at head)."""
    url = postgres_ready
    if not url:
        pytest.skip("LIVE_TEST_DATABASE_URL is not set")
    done = run_live(live_env(tmp_path / "data", LIVE_DATABASE_URL=url), "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"live: database at revision {migrate.head_revision()}"


def test_serve_on_external_redis_spawns_no_valkey(data_dir: Path) -> None:
    """With LIVE_REDIS_URL set, `live serve` uses it and starts no private Valkey."""
    url = os.environ.get("LIVE_TEST_REDIS_URL")
    if not url:
        pytest.skip("LIVE_TEST_REDIS_URL is not set")
    with serving(data_dir, LIVE_REDIS_URL=url, **SHARED_SECRETS) as served:
        assert children(served.process.pid) == []
        served.process.send_signal(signal.SIGTERM)
        assert served.wait_exit() == 0, served.output()
