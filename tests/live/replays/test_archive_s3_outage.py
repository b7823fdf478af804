"""The app through a 60 s S3 outage in the middle of a session: the archive is late, not lossy."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aioboto3
import pytest

from replay.reader import verify
from replay.s3_store import S3ArchiveStore
from replay.spool import Spool
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.s3 import S3Server
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session
from tests.support.tcp_gate import TcpGate
from tests.support.units import UNIT_S

OUTAGE_S = 60.0
"""How long S3 is unreachable: the outage issue 7 asks the archive to survive."""

TRAFFIC_PERIOD_S = 0.5
"""One host action and one viewer comment per period, all through the outage."""


@dataclass
class GatedApp:
    """An app archiving to S3 through a gate the test can close."""

    server: LiveServer
    gate: TcpGate
    bucket: str


@pytest.fixture
async def gated_app(
    server_with: ServerWith, s3_server: S3Server, unique_id: str
) -> AsyncIterator[GatedApp]:
    """The app with LIVE_ARCHIVE_URL=s3://bucket/archive, its endpoint behind a `TcpGate`."""
    bucket = f"outage-{unique_id}"
    async with aioboto3.Session().client("s3", endpoint_url=s3_server.endpoint_url) as client:
        await client.create_bucket(Bucket=bucket)
    gate = TcpGate(s3_server.host, s3_server.port, free_port())
    await gate.open()
    live = await server_with(
        archive_url=f"s3://{bucket}/archive",
        s3_endpoint_url=f"http://127.0.0.1:{gate.port}",
        # Probe the store at least every 2 s, so the test waits for the drain, not the probe.
        archive_retry_max_s=2.0,
    )
    try:
        yield GatedApp(live, gate, bucket)
    finally:
        await live.stop()  # before the gate closes: the app's last archive pass needs S3
        await gate.close()


@pytest.fixture
async def store(gated_app: GatedApp, s3_server: S3Server) -> AsyncIterator[S3ArchiveStore]:
    """The app's archive, read directly (not through the gate), closed after the test."""
    direct = S3ArchiveStore(gated_app.bucket, "archive", endpoint_url=s3_server.endpoint_url)
    try:
        yield direct
    finally:
        await direct.aclose()


@pytest.mark.slow
async def test_a_60_s_s3_outage_during_a_session_loses_nothing(
    gated_app: GatedApp, store: S3ArchiveStore
) -> None:
    """Pins and comments keep flowing while S3 is down; afterwards the replay has every one."""
    server, gate = gated_app.server, gated_app.gate
    opened = await open_session(server)
    sid = opened.session_id
    room = await Room.join(server.ws_url(sid, server.token("viewer", "v", name="Viv")))
    await room.wait_type("snapshot")
    spool = Spool(server.settings.data_dir / "spool")
    sent_comments: list[str] = []
    pins = 0
    async with server.client(opened.host_token) as host:

        async def pin_and_comment() -> None:
            nonlocal pins
            answer = await host.post(
                f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id}
            )
            assert answer.status_code == 200, answer.text
            pins += 1
            text = f"c{len(sent_comments)}"
            await room.send({"type": "comment", "text": text, "ref": text})
            await room.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == text)
            sent_comments.append(text)

        await pin_and_comment()

        async def archiving() -> bool:
            return bool(await store.list(f"sessions/{sid}/events/"))

        # The outage hits a session the archiver has opened (a session opened during an outage
        # waits for the store before it spools: see "Known limits" in docs/architecture.md).
        # Generous: on a shared test Redis the archiver also works through other runs' sessions.
        await eventually(archiving, timeout_s=30 * UNIT_S)
        await gate.close()
        loop = asyncio.get_running_loop()
        outage_ends = loop.time() + OUTAGE_S
        while loop.time() < outage_ends:
            await pin_and_comment()
            # Pacing the traffic across the outage, not waiting for anything.
            await asyncio.sleep(TRAFFIC_PERIOD_S)

        async def spooled() -> bool:
            return sid in await spool.sessions() and bool(await spool.list(sid, "events"))

        await eventually(spooled, timeout_s=5 * UNIT_S)
        await gate.open()
        ended = await host.post(f"/api/sessions/{sid}/end")
        assert ended.status_code == 200, ended.text

        async def archived() -> bool:
            answer = await host.get(f"/api/sessions/{sid}/replay")
            return answer.status_code == 200

        await eventually(archived, timeout_s=60 * UNIT_S)
        events = (await host.get(f"/api/sessions/{sid}/replay")).json()
    await room.close()

    durable = [event for event in events if "seq" in event]
    assert [event["seq"] for event in durable] == list(range(1, len(durable) + 1))
    assert durable[0]["type"] == "started"
    assert durable[-1]["type"] == "ended"
    assert sum(event["type"] == "pin" for event in durable) == pins
    assert [event["text"] for event in events if event["type"] == "comment"] == sent_comments
    assert await verify(store, sid) == []
    assert sid not in await spool.sessions()  # drained, then removed with the manifest
