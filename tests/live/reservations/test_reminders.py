"""Reminders of reservations through the signed webhooks outbox: one ``lead`` reminder per
active reservation once the brand's lead time has come (never before) and one ``start``
reminder once the session is live, each once over two nodes, with the guide and a link that
carries the guide's code; cancelled reservations get none."""

import asyncio
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import orjson
from sqlalchemy import func, select

from live.auth.tokens import Principal, Role
from live.db.models import WebhookEventRow
from live.db.unit import transaction
from live.guides import share_codes
from live.reservations import booking, reminders
from tests.live.reservations.scheduling import reserve, schedule, share_of
from tests.live.webhooks.conftest import FAST
from tests.live.webhooks.hooks import register
from tests.live.webhooks.receiver import Receiver
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith, cluster
from tests.support.units import UNIT_S

LEAD_S = 2
REMINDERS = {**FAST, "reminder_poll_ms": 50}


async def _reminders(node: LiveServer, session_id: str) -> int:
    async with transaction(node.context.db) as db:
        found = await db.scalar(
            select(func.count()).where(
                WebhookEventRow.type == "session.reminder",
                WebhookEventRow.data.contains(session_id),
            )
        )
    return int(found or 0)


async def test_each_reservation_is_reminded_once_before_and_once_at_start_over_two_nodes(
    tmp_path: Path, database_url: str, redis_url: str, receiver: Receiver
) -> None:
    """Two active reservations (one through a guide) and one cancelled: two ``lead`` reminders
    not before the lead time, two ``start`` reminders after the start, none more while both
    nodes keep passing; the link's code names the guide."""
    async with cluster(
        tmp_path, 2, database_url=database_url, redis_url=redis_url, **REMINDERS
    ) as nodes:
        await register(nodes[0], receiver, "crm", event_types=["session.reminder"])
        async with nodes[0].client(nodes[0].token("admin", "admin-1")) as admin:
            put = await admin.put("/api/brands/me/reminders", json={"lead_s": LEAD_S})
            assert put.json() == {"lead_s": LEAD_S}
        session_id, _ = await schedule(nodes[0], in_s=LEAD_S + 2)
        async with nodes[0].client(nodes[0].token("host", "host-1")) as host:
            starts_at = (await host.get(f"/api/sessions/{session_id}")).json()["starts_at"]
        code = await share_of(nodes[0], session_id, "guide-a")
        await reserve(nodes[0], session_id, "v1", share=code)
        await reserve(nodes[1], session_id, "v2")
        await reserve(nodes[1], session_id, "v3")
        async with nodes[1].client(nodes[1].token("viewer", "v3")) as v3:
            await v3.delete(f"/api/sessions/{session_id}/reservations/me")

        lead = await receiver.wait_for("crm", 2, timeout_s=15 * UNIT_S)
        for delivery in lead:
            assert delivery.verified
            assert delivery.payload["type"] == "session.reminder"
            data = delivery.payload["data"]
            assert data["kind"] == "lead"
            assert data["starts_at"] == starts_at
        async with transaction(nodes[0].context.db) as db:
            written = list(
                await db.scalars(
                    select(WebhookEventRow.created_ms).where(
                        WebhookEventRow.type == "session.reminder",
                        WebhookEventRow.data.contains(session_id),
                    )
                )
            )
        # Written no earlier than the lead time before the start.
        assert len(written) == 2
        assert min(written) >= starts_at - LEAD_S * 1000
        by_viewer = {d.payload["data"]["viewer_id"]: d.payload["data"] for d in lead}
        assert set(by_viewer) == {"v1", "v2"}
        assert by_viewer["v1"]["guide_id"] == "guide-a"
        link = urlparse(by_viewer["v1"]["link"])
        assert link.path == f"/watch/{session_id}"
        shared = share_codes.verify(
            nodes[0].settings.secret, parse_qs(link.query)["share"][0], now_s=int(time.time())
        )
        assert (shared.guide_id, shared.session_id) == ("guide-a", session_id)
        assert by_viewer["v2"]["guide_id"] is None
        assert by_viewer["v2"]["link"] == f"/watch/{session_id}"

        async with nodes[1].client(nodes[1].token("host", "host-1")) as host:
            await host.post(f"/api/sessions/{session_id}/start")
        both = await receiver.wait_for("crm", 4, timeout_s=15 * UNIT_S)
        starts = [d.payload["data"] for d in both if d.payload["data"]["kind"] == "start"]
        assert sorted(s["viewer_id"] for s in starts) == ["v1", "v2"]
        assert all(s["started_at"] is not None for s in starts)

        # Both nodes keep passing over the same reservations: nothing more is written.
        passes = [node.context.webhooks.passes for node in nodes]

        async def passed_on() -> bool:
            return all(
                n.context.webhooks.passes >= p + 10 for n, p in zip(nodes, passes, strict=True)
            )

        await eventually(passed_on, what="both nodes' further passes")
        assert await _reminders(nodes[0], session_id) == 4
        ids = Counter(d.webhook_id for d in receiver.of("crm"))
        assert len(ids) == 4


async def test_no_lead_reminder_before_the_lead_time(server: LiveServer) -> None:
    """With the start an hour away and a ten-minute lead, passes write nothing."""
    session_id, _ = await schedule(server, in_s=3_600)
    await reserve(server, session_id, "v1")
    for _ in range(3):
        await reminders.one_pass(server.context)
    assert await _reminders(server, session_id) == 0


async def test_racing_passes_of_two_nodes_remind_each_reservation_once(
    server: LiveServer, server_with: ServerWith
) -> None:
    """200 reservations whose lead time has come, claimed by passes racing on two nodes'
    contexts: exactly 200 lead events, each reservation once."""
    other = await server_with()
    other.brand = server.brand
    session_id, _ = await schedule(server, in_s=60)
    ctx = server.context
    for n in range(200):
        caller = Principal(sub=f"v{n}", role=Role.VIEWER, brand=server.brand)
        await booking.reserve(ctx, caller, session_id, share=None)
    await asyncio.gather(
        *(reminders.one_pass(node.context) for node in (server, other) for _ in range(3))
    )
    async with transaction(ctx.db) as db:
        rows = list(
            await db.scalars(
                select(WebhookEventRow.data).where(WebhookEventRow.type == "session.reminder")
            )
        )
    mine = [data for data in map(orjson.loads, rows) if data["session_id"] == session_id]
    assert len(mine) == 200
    assert len({data["reservation_id"] for data in mine}) == 200
