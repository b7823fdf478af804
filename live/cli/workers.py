"""`live serve --workers N`: N worker processes on one port, each a full node, and their supervisor.

Why one listening socket, bound here and inherited by every worker, rather than SO_REUSEPORT
listeners bound by each worker: with one socket, connections wait in one accept queue that any
live worker drains, so a worker that is draining or has died strands no connection; with
SO_REUSEPORT the kernel hashes each connection to one worker's own queue, and whatever waits in
the queue of a worker that closes it is reset. It is also what uvicorn's own ``--workers`` does.
We supervise the workers ourselves only because uvicorn's supervisor runs plain
`uvicorn.Server`s, without the drain of `GracefulServer` (viewers closed with 4101, archiver
leases released).

Each worker is *spawned* (a fresh interpreter, not a fork of a process that has already run an
event loop and opened engines), builds its settings from the same environment (hence its own
``node_id``) and its own app through `node_app`, and runs every background loop: hub, archiver,
hold reaper, sale closer, recovery. Nodes sharing one Redis and one database are safe by design
(docs/architecture.md section 7), so N workers are N nodes that happen to share a port.

Stopping: SIGINT or SIGTERM to the supervisor sends SIGTERM to every worker, which drains as a
single `live serve` does, and the supervisor exits 0 once all have exited. A worker that exits
on its own (a crash, or engines failing at start-up) stops the others and the supervisor exits 1:
restarting it here would hide a crash loop from the process manager, which restarts the unit.
A worker also gets SIGTERM from the kernel if the supervisor dies without stopping it
(``PR_SET_PDEATHSIG``, Linux), so no worker outlives it holding the port.
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from live.platform.settings import load_settings
from live.platform.shutdown import GracefulServer

#: The app factory each worker's uvicorn calls (``factory=True``).
NODE_APP = "live.cli.workers:node_app"
_PR_SET_PDEATHSIG = 1
#: A stopping worker needs its drain, uvicorn's 5 s for requests, then the lifespan's close.
_STOP_GRACE_S = 30.0

logger = logging.getLogger(__name__)


def node_app() -> Starlette:
    """The app of one worker, built in the worker from the environment (its own node id)."""
    from live.app import create_app

    return create_app(load_settings())


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn re-raises the stop signal after its graceful shutdown; a drained worker is a
    # success, not a death by signal (nor a KeyboardInterrupt traceback).
    raise SystemExit(0)


def _die_with(supervisor: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # the supervisor died before the line above
        raise SystemExit(0)


class _WorkerServer(GracefulServer):
    """A `GracefulServer` for which every stop signal means "drain"."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Stop gracefully, whichever of SIGINT and SIGTERM comes, and however many."""
        # On Ctrl-C a worker gets SIGINT from the terminal and SIGTERM from the supervisor, in
        # either order; uvicorn takes a SIGINT after another signal for "force exit", which
        # would skip the drain and the lifespan's shutdown.
        super().handle_exit(signal.SIGTERM, frame)


def _work(config: uvicorn.Config, sock: socket.socket, drain_s: float, supervisor: int) -> None:
    """One worker: a `GracefulServer` on the inherited socket."""
    _die_with(supervisor)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    config.configure_logging()
    _WorkerServer(config, drain_s=drain_s).run(sockets=[sock])


class _Stop:
    """Set by SIGINT or SIGTERM to the supervisor."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        self.event.set()


def serve(
    config: uvicorn.Config, *, workers: int, drain_s: float, metrics_dir: Path | None = None
) -> int:
    """Run ``workers`` processes serving ``config`` (an app factory) until a signal: exit status
    0 when stopped by SIGINT/SIGTERM, 1 when a worker exited on its own.

    The workers share ``metrics_dir`` (a fresh directory, removed at the end, unless the
    operator gave ``PROMETHEUS_MULTIPROC_DIR``), so any worker's ``/metrics`` sums them all."""
    if metrics_dir is not None:
        return _serve(config, workers=workers, drain_s=drain_s)
    with tempfile.TemporaryDirectory(prefix="live-metrics-") as fresh:
        # Set before the workers are spawned: each reads it in its settings, and
        # prometheus-client reads it when imported there.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = fresh
        try:
            return _serve(config, workers=workers, drain_s=drain_s)
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _serve(config: uvicorn.Config, *, workers: int, drain_s: float) -> int:
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    # Workers are spawned ignoring SIGINT (an ignored signal stays ignored across exec, and
    # Python then installs no KeyboardInterrupt handler): a Ctrl-C to the terminal's process
    # group while a worker still imports would otherwise end it with a traceback. Each worker
    # handles SIGINT once it can stop cleanly (`_work`); until then the SIGTERM that the
    # supervisor sends every worker on Ctrl-C stops it. A Ctrl-C during the spawn calls
    # themselves (milliseconds) is lost.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = config.bind_socket()
    spawn = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        spawn.Process(
            target=_work, args=(config, sock, drain_s, os.getpid()), name=f"live-worker-{n}"
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    signal.signal(signal.SIGINT, stop)
    logger.info("supervisor %d started %d workers", os.getpid(), workers)
    status = 0
    while not stop.event.wait(0.2):
        died = [process for process in processes if not process.is_alive()]
        if died:
            logger.error(
                "worker %d exited with status %s: stopping the other workers",
                died[0].pid,
                died[0].exitcode,
            )
            status = 1
            break
    _stop_all(processes)
    sock.close()
    return status


def _stop_all(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join(_STOP_GRACE_S)
        if process.is_alive():
            logger.error("worker %d did not stop in %.0f s: killed", process.pid, _STOP_GRACE_S)
            process.kill()
            process.join()
