"""A session's start at full size: joins ask the record nothing on their own, take turns, and
are refused with a retry hint past the queue; the host's actions never wait behind them."""

import asyncio
import contextlib
from typing import Any

import pytest
import redis.asyncio as aioredis

from common import codec
from live.platform.paced_upgrades import pacer
from realtime.admission import Ticket
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith, statements_with
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

#: The node's own loops read and write the record on their own schedule, not per join.
BACKGROUND = (
    "hold-reaper",
    "waitlist-offers",
    "clip-order-reaper",
    "sale-closer",
    "draw-closer",
    "redis-recovery",
    "stock-invariant",
    "webhook-dispatcher",
    "reservation-reminders",
    "metrics-sampler",
    "gc-policy",
    "archiver",
)


async def _share(server: LiveServer, session_id: str, guide: str) -> str:
    async with server.client(server.token("guide", guide, store="s1")) as client:
        answer = await client.get("/api/guides/me/share", params={"session_id": session_id})
    assert answer.status_code == 200, answer.text
    code: str = answer.json()["code"]
    return code


async def _join_all(urls: list[str]) -> list[Room]:
    rooms = await asyncio.gather(*(Room.join(url) for url in urls))
    await asyncio.gather(*(room.wait_type("snapshot", timeout_s=30 * UNIT_S) for room in rooms))
    return list(rooms)


async def test_a_join_storm_asks_the_record_nothing_per_join(server: LiveServer) -> None:
    """Sixty viewers join at once, half through a guide's link (a binding each): the record
    sees a few statements per storm, not one or more per join (the old code sent over 150)."""
    opened = await open_session(server)
    share = await _share(server, opened.session_id, "guide-1")
    urls = [
        server.ws_url(
            opened.session_id,
            server.token("viewer", f"storm-{n}"),
            **({"share": share} if n % 2 else {}),
        )
        for n in range(60)
    ]
    with statements_with(server, except_tasks=BACKGROUND) as statements:
        rooms = await _join_all(urls)

        async def bindings_written() -> bool:
            return server.context.bindings.written >= 30

        await eventually(bindings_written)
    # Per storm, not per join: the session row, the shared state (session, products, coupons,
    # sales), the brand's two policies and the batched binding inserts, each with its BEGIN.
    assert len(statements) <= 20, statements
    assert sum("guide_bindings" in s for s in statements) <= 6  # batched inserts, not 30
    async with server.client(server.token("guide", "guide-1", store="s1")) as guide:
        summary = await guide.get("/api/guides/me/summary")
    assert summary.status_code == 200, summary.text
    assert summary.json()["viewers_brought"] == 30
    for room in rooms:
        await room.close()


async def _watch(redis: aioredis.Redis, sent: list[str]) -> None:
    """Append every command Redis runs to ``sent`` (MONITOR) until cancelled."""
    async with redis.monitor() as monitor:
        async for command in monitor.listen():
            sent.append(command["command"])


async def test_a_join_storm_reads_the_viewers_bindings_in_a_batch(
    server: LiveServer, redis: aioredis.Redis
) -> None:
    """Sixty viewers join at once, half through a guide's link: the desks read the joining
    viewers' bindings a batch at a time (an ``MGET`` each), not with a ``GET`` per viewer, and
    the guide's desk still lists exactly the thirty viewers they brought."""
    opened = await open_session(server)
    share = await _share(server, opened.session_id, "guide-1")
    desk = await Room.join(
        server.ws_url(opened.session_id, server.token("guide", "guide-1", store="s1"))
    )
    await desk.wait_for(lambda f: f.get("type") == "workspace" and f["full"])
    urls = [
        server.ws_url(
            opened.session_id,
            server.token("viewer", f"crowd-{n}"),
            **({"share": share} if n % 2 else {}),
        )
        for n in range(60)
    ]
    sent: list[str] = []
    watching = asyncio.create_task(_watch(redis, sent))

    async def monitoring() -> bool:
        await redis.echo("monitoring?")
        return any("monitoring?" in command for command in sent)

    await eventually(monitoring)
    rooms = await _join_all(urls)
    brought = {f"crowd-{n}" for n in range(1, 60, 2)}

    def listed(frame: dict[str, Any]) -> set[str]:
        return {entry["viewer_id"] for entry in frame["viewers"]}

    await desk.wait_for(lambda f: f.get("type") == "workspace" and listed(f) == brought)
    watching.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watching  # MONITOR's connection closed before the test ends
    binding_reads = [c for c in sent if c.startswith(("GET attr:", "MGET attr:"))]
    crowd_in_mgets = sum(c.count(":crowd-") for c in binding_reads if c.startswith("MGET"))
    # The arrivals through the link read their own binding when they bind (a GET each); the
    # desks' reads of all sixty are MGETs of many viewers.
    assert crowd_in_mgets == 60, binding_reads
    assert sum(c.startswith("MGET") for c in binding_reads) <= 20, binding_reads
    assert sum(c.startswith("GET") for c in binding_reads) <= 30, binding_reads
    for room in [*rooms, desk]:
        await room.close()


async def test_claim_holders_get_their_coupons_from_batched_reads(server: LiveServer) -> None:
    """Viewers who claimed a coupon come back at once (a reconnect storm): each snapshot has
    its own claim, and the record is asked for them in a batch or two, not once each."""
    opened = await open_session(server)
    async with server.client(opened.host_token) as host:
        dropped = await host.post(
            f"/api/sessions/{opened.session_id}/coupons",
            json={"title": "10 off", "kind": "amount_off", "value": 1000, "quantity": 100},
        )
    assert dropped.status_code == 201, dropped.text
    coupon_id = dropped.json()["coupon_id"]
    viewers = [f"holder-{n}" for n in range(20)]
    urls = [server.ws_url(opened.session_id, server.token("viewer", v)) for v in viewers]
    rooms = await _join_all(urls)
    for n, room in enumerate(rooms):
        await room.send({"type": "claim", "coupon_id": coupon_id, "ref": f"c{n}"})
    for room in rooms:
        ack = await room.wait_type("ack")
        assert ack["coupon_id"] == coupon_id
        await room.close()
    bystander = server.ws_url(opened.session_id, server.token("viewer", "never-claimed"))
    with statements_with(server, "coupon_claims", except_tasks=BACKGROUND) as reads:
        back = await asyncio.gather(*(Room.join(url) for url in [*urls, bystander]))
        snapshots = [await room.wait_type("snapshot") for room in back]
    for snapshot in snapshots[:-1]:
        assert [c["coupon_id"] for c in snapshot["my_coupons"]] == [coupon_id]
    assert snapshots[-1]["my_coupons"] == []
    assert 1 <= len(reads) <= 4, reads
    for room in back:
        await room.close()


async def test_joins_in_a_storm_share_one_encoded_snapshot(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty joins at one room state: the snapshot is encoded a handful of times (once per
    state and tick), not forty."""
    opened = await open_session(server)
    warm = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "warm")))
    await warm.wait_type("snapshot")
    encoded: list[str] = []
    encode = codec.encode_text

    def counting(value: object) -> str:
        text = encode(value)
        if '"type":"snapshot"' in text:
            encoded.append(text)
        return text

    monkeypatch.setattr(codec, "encode_text", counting)
    urls = [server.ws_url(opened.session_id, server.token("viewer", f"s{n}")) for n in range(40)]
    rooms = await _join_all(urls)
    # One encoding per (seq, viewers, likes) at most, and the viewer count changes once a tick
    # (the warm viewer's join may have encoded this very state already); the old code: 40.
    assert len(encoded) <= 10, len(encoded)
    for room in [warm, *rooms]:
        await room.close()


@pytest.fixture
async def tight(server_with: ServerWith) -> LiveServer:
    """A node that lets one join in at a time, queues two more and refuses the next at once."""
    return await server_with(join_concurrency=1, join_queue=2, join_retry_ms=700, join_hold_s=0)


async def _fill_queue(
    server: LiveServer, session_id: str, prefix: str
) -> tuple[Ticket, list[asyncio.Task[Room]]]:
    """Take the node's only join turn and queue two joins behind it; returns the turn (release
    it to let them in) and the two joins."""
    gate = server.context.joins
    held = await gate.enter()
    assert held is not None
    queued = [
        asyncio.create_task(
            Room.join(server.ws_url(session_id, server.token("viewer", f"{prefix}{n}")))
        )
        for n in range(2)
    ]

    async def full() -> bool:
        return gate.waiting == 2

    await eventually(full)
    return held, queued


async def test_host_actions_never_wait_behind_queued_joins(tight: LiveServer) -> None:
    """With the node's only join turn taken and joins queued behind it, the host pins and the
    pin answers while the joins still wait: host traffic does not queue with joins."""
    opened = await open_session(tight)
    gate = tight.context.joins
    held, waiting = await _fill_queue(tight, opened.session_id, "q")
    async with tight.client(opened.host_token) as host:
        pinned = await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
    assert pinned.status_code == 200, pinned.text
    assert gate.waiting == 2  # the joins were still queued when the pin answered
    held.release()
    rooms = await asyncio.gather(*waiting)
    for room in rooms:
        snapshot = await room.wait_type("snapshot")
        assert snapshot["pinned_product_id"] == opened.product_id
        await room.close()


async def test_a_join_past_the_queue_is_refused_busy_and_the_node_says_so(
    tight: LiveServer,
) -> None:
    """Turn taken, queue full: the next join gets ``busy`` with a retry hint and close 4103,
    and ``/readyz`` answers 503 (saturated) until the queue drains."""
    opened = await open_session(tight)
    held, queued = await _fill_queue(tight, opened.session_id, "w")
    async with tight.client() as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["joins"].startswith("saturated")
    refused = await Room.join(tight.ws_url(opened.session_id, tight.token("viewer", "late")))
    error = await refused.wait_type("error")
    assert error["code"] == "busy"
    assert error["retry_after_ms"] >= 700
    await refused.socket.wait_closed()
    assert refused.socket.close_code == 4103
    assert refused.socket.close_reason == f"busy; retry_after_ms={error['retry_after_ms']}"
    held.release()
    for room in await asyncio.gather(*queued):
        await room.wait_type("snapshot")
        await room.close()
    async with tight.client() as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["joins"].startswith("ok")


async def test_a_join_past_the_queue_waits_for_room_and_gets_in(server_with: ServerWith) -> None:
    """Turn taken, queue full, and a hold of 30 s: the next join's upgrade waits unanswered
    (``live_joins_held`` 1) instead of being refused; once the turn passes, all three joins get
    their snapshot and nobody was refused."""
    patient = await server_with(join_concurrency=1, join_queue=2, join_retry_ms=700, join_hold_s=30)
    opened = await open_session(patient)
    gate = patient.context.joins
    held, joining = await _fill_queue(patient, opened.session_id, "p")
    joining.append(
        asyncio.create_task(
            Room.join(patient.ws_url(opened.session_id, patient.token("viewer", "late")))
        )
    )

    async def late_held() -> bool:
        return pacer().waiting == 1

    await eventually(late_held)
    async with patient.client(opened.host_token) as host:
        metrics = (await host.get("/metrics")).text
    assert "live_joins_held 1.0" in metrics
    assert not joining[-1].done()
    held.release()
    rooms = await asyncio.wait_for(asyncio.gather(*joining), 10 * UNIT_S)
    for room in rooms:
        await room.wait_type("snapshot")
        await room.close()
    assert gate.refused == 0
    assert pacer().waiting == 0


async def test_a_join_that_gives_up_while_queued_loses_no_turn(tight: LiveServer) -> None:
    """A viewer queued for a turn goes away before it comes: when the turn reaches it, the
    accept fails and the turn passes on; the gate ends with nobody joining or waiting."""
    opened = await open_session(tight)
    gate = tight.context.joins
    held = await gate.enter()
    assert held is not None
    impatient = asyncio.create_task(
        Room.join(tight.ws_url(opened.session_id, tight.token("viewer", "impatient")))
    )

    async def queued() -> bool:
        return gate.waiting == 1

    await eventually(queued)
    impatient.cancel()  # the client closes its connection before the upgrade is answered
    await asyncio.gather(impatient, return_exceptions=True)
    held.release()

    async def idle() -> bool:
        return gate.active == 0 and gate.waiting == 0

    await eventually(idle)
    late = await Room.join(tight.ws_url(opened.session_id, tight.token("viewer", "late")))
    await late.wait_type("snapshot")
    await late.close()
