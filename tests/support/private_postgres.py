"""A private PostgreSQL server for fault tests: Debian's ``initdb``/``pg_ctl`` on a free port
and a throwaway data directory. The machine's own PostgreSQL service is never touched."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.units import UNIT_S

BIN = Path("/usr/lib/postgresql/15/bin")


def available() -> bool:
    """True when the Debian PostgreSQL 15 server binaries are installed."""
    return all((BIN / name).exists() for name in ("initdb", "pg_ctl", "postgres"))


class PrivatePostgres:
    """One cluster, owned by the ``postgres`` user when the tests run as root (initdb refuses
    root), listening on 127.0.0.1:``port`` only, with fsync off (faults, not durability, are
    what the tests exercise)."""

    def __init__(self, port: int) -> None:
        self.port = port
        # Not under pytest's tmp_path: its parents are private to root, and the server runs as
        # the postgres user.
        self.base = Path(tempfile.mkdtemp(prefix="live-pg-"))
        self.data = self.base / "data"
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``postgres`` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=60 * UNIT_S)  # noqa: S603

    def init(self) -> None:
        """Create the cluster."""
        self.base.chmod(0o755)
        if self._as_root:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c full_page_writes=off"
        )
        log = str(self.base / "server.log")
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )

    def stop(self, *, mode: str = "immediate") -> None:
        """Stop the server; ``immediate`` is a crash (no checkpoint, clients cut off)."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        """Stop (if running) and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop(mode="immediate")
        shutil.rmtree(self.base, ignore_errors=True)
