"""A server under test as the kernel sees it: its processes, their CPU time, and which worker
holds a connection (Linux ``/proc``; loopback IPv4 only).

A server with several workers on one listening socket (``live serve --workers N``, uvicorn's
``--workers N``) is one supervisor and N children; which worker accepted a connection is the
process holding the server side of it: the socket in ``/proc/net/tcp`` whose remote port is the
client's local port.
"""

import asyncio
import contextlib
import os
from pathlib import Path


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, except a Valkey it started (an engine, not the
    server: the embedded mode's Valkey is a child of ``live serve``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = (entry / "status").read_text()
            if f"\nPPid:\t{pid}\n" in status and (entry / "comm").read_text() != "valkey-server\n":
                found.append(int(entry.name))
    return found


def owner(port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server side of the connection ``client_port`` -> ``port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if local_port == port and remote_port == client_port:
            inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return pid
    return None


async def wait_workers(port: int, supervisor: int, workers: int, *, timeout_s: float = 30) -> None:
    """Return once ``workers`` different children of ``supervisor`` have answered ``GET
    /healthz`` on ``port`` (healthy means one answered; the others may still be starting)."""
    answered: set[int] = set()
    held: list[asyncio.StreamWriter] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(answered) < workers:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                held.append(writer)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    continue
                pid = owner(port, writer.get_extra_info("sockname")[1], children(supervisor))
                if pid is not None:
                    answered.add(pid)
    finally:
        for writer in held:
            writer.close()
