"""Failing endpoints: retried with backoff until they answer, dead letters after the give-up
time, redelivery of one event or a time range, and the log of every attempt."""

from pathlib import Path
from typing import Any

from live.webhooks.schedule import Schedule
from tests.live.webhooks.conftest import FAST
from tests.live.webhooks.hooks import register
from tests.live.webhooks.receiver import Receiver
from tests.support.polling import eventually
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


async def _deliveries(server: LiveServer, endpoint_id: str) -> list[dict[str, Any]]:
    async with server.client(server.token("admin", "admin-1")) as client:
        answer = await client.get(f"/api/webhooks/endpoints/{endpoint_id}/deliveries")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _attempts(server: LiveServer, delivery_id: str) -> list[dict[str, Any]]:
    async with server.client(server.token("admin", "admin-1")) as client:
        answer = await client.get(f"/api/webhooks/deliveries/{delivery_id}/attempts")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_500_then_200_is_delivered_with_one_webhook_id(
    hooked: LiveServer, receiver: Receiver
) -> None:
    """An endpoint answering 500 gets the event again, same webhook-id, until it answers 200;
    the log lists each attempt's status code."""
    endpoint = await register(hooked, receiver, "flaky", event_types=["session.scheduled"])
    receiver.status = 500
    async with hooked.client(hooked.token("host", "h1")) as client:
        assert (await client.post("/api/sessions", json={"title": "t"})).status_code == 201
    await receiver.wait_for("flaky", 3, timeout_s=5 * UNIT_S)
    receiver.status = 200

    async def delivered() -> bool:
        return [d["status"] for d in await _deliveries(hooked, endpoint["endpoint_id"])] == [
            "delivered"
        ]

    await eventually(delivered)
    got = receiver.of("flaky")
    assert len({d.webhook_id for d in got}) == 1
    assert all(d.verified for d in got)
    (delivery,) = await _deliveries(hooked, endpoint["endpoint_id"])
    codes = [a["status_code"] for a in await _attempts(hooked, delivery["delivery_id"])]
    assert codes[-1] == 200
    assert set(codes[:-1]) == {500}
    assert len(codes) == len(got) == delivery["attempts"]


async def test_a_receiver_down_for_minutes_gets_every_event_once_back(
    hooked: LiveServer, receiver: Receiver
) -> None:
    """With the receiver down for what the compressed schedule makes 5 minutes (3 s at 100x),
    every event written meanwhile arrives once it is back; any duplicate has the same id."""
    endpoint = await register(hooked, receiver, "down")
    await receiver.stop()
    opened = await open_session(hooked, stock=50, limit=None)
    async with hooked.client(hooked.token("viewer", "v1")) as client:
        for n in range(20):
            placed = await client.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": f"k{n}"},
            )
            assert placed.status_code == 201, placed.text

    async def failing() -> bool:
        items = await _deliveries(hooked, endpoint["endpoint_id"])
        return len(items) == 22 and all(d["attempts"] >= 3 for d in items)

    await eventually(failing)
    refused = (await _deliveries(hooked, endpoint["endpoint_id"]))[0]
    assert refused["status"] == "pending"
    assert refused["last_status_code"] is None
    assert "Connect" in (refused["last_error"] or "")
    await receiver.start()
    await receiver.wait_until(
        lambda: len({d.webhook_id for d in receiver.of("down")}) == 22, timeout_s=15 * UNIT_S
    )
    types = [d.payload["type"] for d in receiver.of("down")]
    assert types.count("order.reserved") >= 20
    assert all(d.verified for d in receiver.of("down"))


async def test_dead_letters_are_redelivered_by_event_and_by_range(
    data_dir: Path, database_url: str, redis_url: str, receiver: Receiver
) -> None:
    """Past the give-up time a delivery is dead; redelivering the event, or a time range to
    the endpoint, sends it again once the endpoint is fixed."""
    settings = settings_for(
        data_dir,
        database_url=database_url,
        redis_url=redis_url,
        **{**FAST, "webhook_give_up_s": 0.3},
    )
    server = await start_server(settings)
    try:
        endpoint = await register(server, receiver, "dead", event_types=["session.scheduled"])
        receiver.status = 503
        async with server.client(server.token("host", "h1")) as client:
            for title in ("a", "b"):
                assert (
                    await client.post("/api/sessions", json={"title": title})
                ).status_code == 201

        async def dead() -> bool:
            items = await _deliveries(server, endpoint["endpoint_id"])
            return len(items) == 2 and all(d["status"] == "dead" for d in items)

        await eventually(dead)
        before = len(receiver.of("dead"))
        receiver.status = 200
        first, second = await _deliveries(server, endpoint["endpoint_id"])
        admin = server.token("admin", "admin-1")
        async with server.client(admin) as client:
            again = await client.post(f"/api/webhooks/events/{first['event_id']}/redeliver")
            assert again.status_code == 202, again.text
            assert again.json()["deliveries"] == 1
        await receiver.wait_until(
            lambda: any(d.webhook_id == first["event_id"] for d in receiver.of("dead")[before:]),
            timeout_s=5 * UNIT_S,
        )
        async with server.client(admin) as client:
            ranged = await client.post(
                f"/api/webhooks/endpoints/{endpoint['endpoint_id']}/redeliver",
                json={
                    "from_ms": second["created_at"] - 60_000,
                    "to_ms": second["created_at"] + 60_000,
                },
            )
            assert ranged.status_code == 202, ranged.text
            assert ranged.json()["deliveries"] == 2

        async def all_delivered() -> bool:
            items = await _deliveries(server, endpoint["endpoint_id"])
            return all(d["status"] == "delivered" for d in items)

        await eventually(all_delivered)
        ids = {d.webhook_id for d in receiver.of("dead")}
        assert ids == {first["event_id"], second["event_id"]}
    finally:
        await server.stop()


async def test_the_schedule_spreads_retries_over_a_day() -> None:
    """The production schedule: doubling from 5 s with equal jitter, capped at 2 h, gives up
    after 24 h; about 20 attempts in all."""
    schedule = Schedule(base_s=5, max_s=7200, give_up_s=86_400, random=lambda: 1.0)
    now, attempts = 0, 0
    while True:
        attempts += 1
        due = schedule.next_ms(attempts=attempts, now_ms=now, window_ms=0)
        if due is None:
            break
        now = due
    assert 20 <= attempts <= 25, attempts
    assert now > 20 * 3600 * 1000
    low = Schedule(base_s=5, max_s=7200, give_up_s=86_400, random=lambda: 0.0)
    assert low.delay_s(1) == 2.5
    assert low.delay_s(30) == 3600
