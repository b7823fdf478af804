"""A node is killed (SIGKILL, no goodbye): its viewers see the connection drop, reconnect to
another node with ``since`` and ``epoch``, and get exactly the durable events they missed."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.servers import PAYMENT_SECRET, SECRET, LiveServer, ServerWith
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


@pytest.fixture
def victim(
    tmp_path: Path, database_url: str, redis_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A ``live serve`` process on the shared engines: (process, base URL)."""
    live = str(Path(sys.executable).parent / "live")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVE_")},
        "LIVE_DATA_DIR": str(tmp_path / "victim"),
        "LIVE_DATABASE_URL": database_url,
        "LIVE_REDIS_URL": redis_url,
        "LIVE_ARCHIVE_URL": (tmp_path / "archive").as_uri(),
        "LIVE_SECRET": SECRET,
        "LIVE_PAYMENT_SECRET": PAYMENT_SECRET,
        "LIVE_TICK_MS": "50",
        "LIVE_LOG_FORMAT": "text",
    }
    subprocess.run([live, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    port = free_port()
    log = (tmp_path / "victim.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own program
        [live, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30 * UNIT_S)
        log.close()


@pytest.fixture
async def survivor(server_with: ServerWith, tmp_path: Path) -> LiveServer:
    """The node that stays up."""
    return await server_with(
        data_dir=tmp_path / "survivor", archive_url=(tmp_path / "archive").as_uri()
    )


async def _ready(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:

        async def answers() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, timeout_s=60 * UNIT_S)


async def _pin(node: LiveServer, host_token: str, session_id: str, product_id: str | None) -> None:
    async with node.client(host_token) as host:
        if product_id is None:
            answer = await host.delete(f"/api/sessions/{session_id}/pin")
        else:
            answer = await host.post(
                f"/api/sessions/{session_id}/pin", json={"product_id": product_id}
            )
    assert answer.status_code == 200, answer.text


async def _dropped(room: Room) -> None:
    """Read until the dead node's socket is gone."""
    try:
        while True:
            await room.next_frame()
    except ConnectionClosed:
        return


async def test_viewers_of_a_killed_node_recover_on_another_with_since(
    victim: tuple[subprocess.Popen[bytes], str], survivor: LiveServer
) -> None:
    """Pins made while the viewer was cut off arrive after it reconnects elsewhere, in order."""
    process, victim_url = victim
    await _ready(victim_url)
    opened = await open_session(survivor)
    token = survivor.token("viewer", "roamer")
    ws_victim = victim_url.replace("http://", "ws://")
    room = await Room.join(f"{ws_victim}/ws/sessions/{opened.session_id}?token={token}")
    snapshot = await room.wait_type("snapshot")
    await _pin(survivor, opened.host_token, opened.session_id, opened.product_id)
    seen = (await room.wait_type("pin"))["seq"]

    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait, 30)
    await _dropped(room)
    for product_id in (None, opened.product_id, None):
        await _pin(survivor, opened.host_token, opened.session_id, product_id)

    back = await Room.join(
        survivor.ws_url(opened.session_id, token, since=seen, epoch=snapshot["epoch"])
    )
    missed = [await back.wait_for(lambda f: "seq" in f) for _ in range(3)]
    assert [frame["type"] for frame in missed] == ["unpin", "pin", "unpin"]
    assert [frame["seq"] for frame in missed] == [seen + 1, seen + 2, seen + 3]
    assert all(frame["type"] != "snapshot" for frame in back.frames)
    await back.close()
