"""A node killed (SIGKILL) in the middle of deliveries: another node sends them once the dead
node's leases run out; every event arrives, and a repeat carries the same webhook-id."""

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live.webhooks.conftest import FAST
from tests.live.webhooks.receiver import Receiver
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.servers import PAYMENT_SECRET, SECRET, settings_for, start_server
from tests.support.units import UNIT_S

EVENTS = 10


@pytest.fixture
def victim(
    tmp_path: Path, database_url: str, redis_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A ``live serve`` process whose webhook attempts may take 3 s: (process, base URL)."""
    live = str(Path(sys.executable).parent / "live")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVE_")},
        "LIVE_DATA_DIR": str(tmp_path / "victim"),
        "LIVE_DATABASE_URL": database_url,
        "LIVE_REDIS_URL": redis_url,
        "LIVE_ARCHIVE_URL": (tmp_path / "archive").as_uri(),
        "LIVE_SECRET": SECRET,
        "LIVE_PAYMENT_SECRET": PAYMENT_SECRET,
        "LIVE_LOG_FORMAT": "text",
        "LIVE_WEBHOOK_POLL_MS": "20",
        "LIVE_WEBHOOK_TIMEOUT_S": "3",
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
        process.wait(timeout=30)
        log.close()


async def test_deliveries_of_a_killed_node_are_sent_by_another(
    victim: tuple[subprocess.Popen[bytes], str],
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    receiver: Receiver,
) -> None:
    """The victim holds 4 deliveries in flight when it is killed; a node started afterwards
    sends those (after their 10 s leases) and the 6 others: all 10 events arrive, each
    under one webhook-id."""
    process, url = victim
    brand = "killed-brand"
    from live.auth import tokens

    admin = tokens.mint(SECRET, sub="admin-1", role="admin", brand=brand)
    host = tokens.mint(SECRET, sub="h1", role="host", brand=brand)
    async with httpx.AsyncClient(base_url=url, timeout=10 * UNIT_S) as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, timeout_s=60)
        created = await client.post(
            "/api/webhooks/endpoints",
            json={"url": receiver.url("shop"), "event_types": ["session.scheduled"]},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert created.status_code == 201, created.text
        receiver.secrets["/hooks/shop"] = created.json()["secret"]
        receiver.slow["shop"] = 2.0
        for n in range(EVENTS):
            made = await client.post(
                "/api/sessions",
                json={"title": f"s{n}"},
                headers={"Authorization": f"Bearer {host}"},
            )
            assert made.status_code == 201, made.text
    await receiver.wait_until(lambda: receiver.in_flight.get("/hooks/shop", 0) >= 4, timeout_s=10)
    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait, 30)
    receiver.slow["shop"] = 0.0

    survivor = await start_server(
        settings_for(
            tmp_path / "survivor",
            database_url=database_url,
            redis_url=redis_url,
            archive_url=(tmp_path / "archive").as_uri(),
            **FAST,
        )
    )
    try:
        await receiver.wait_until(
            lambda: len({d.webhook_id for d in receiver.of("shop")}) == EVENTS,
            timeout_s=30 * UNIT_S,
        )
        survivor.brand = brand
        async with survivor.client(survivor.token("admin", "admin-1")) as client:
            endpoint_id = created.json()["endpoint_id"]

            async def recorded() -> bool:
                page = await client.get(f"/api/webhooks/endpoints/{endpoint_id}/deliveries")
                items = page.json()["items"]
                return len(items) == EVENTS and all(d["status"] == "delivered" for d in items)

            await eventually(recorded, timeout_s=30 * UNIT_S)
    finally:
        await survivor.stop()
    ids_of: dict[str, set[str]] = defaultdict(set)
    for delivery in receiver.of("shop"):
        assert delivery.verified
        ids_of[delivery.payload["data"]["session_id"]].add(delivery.webhook_id)
    assert len(ids_of) == EVENTS
    assert all(len(ids) == 1 for ids in ids_of.values()), ids_of
    # The 4 the victim had in flight reached the receiver (it answered after the victim
    # died) and were sent again by the survivor: duplicates, under the same ids.
    assert len(receiver.of("shop")) >= EVENTS + 4
