"""The admin API of webhook endpoints: bad input gets catalog errors, only a brand's admin
reaches its endpoints, pausing holds deliveries back, deleting ends them."""

from typing import Any

import pytest

from tests.live.webhooks.hooks import register
from tests.live.webhooks.receiver import Receiver
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.units import UNIT_S


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"event_types": ["order.paid"]}, "url and event_types are required"),
        ({"url": "ftp://x.example/h", "event_types": ["order.paid"]}, "url must look like"),
        ({"url": "https://x.example/h", "event_types": []}, "non-empty list"),
        ({"url": "https://x.example/h", "event_types": ["order.lost"]}, "unknown event types"),
        ({"url": "https://x.example/h", "event_types": "order.paid"}, "non-empty list"),
        ({"url": 7, "event_types": ["order.paid"]}, "url: an http(s) URL"),
    ],
)
async def test_bad_endpoints_are_refused(hooked: LiveServer, body: Any, fragment: str) -> None:
    """Each malformed endpoint answers 422 invalid_request saying what is wrong."""
    async with hooked.client(hooked.token("admin", "a")) as client:
        answer = await client.post("/api/webhooks/endpoints", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert fragment in answer.json()["error"]["message"]


async def test_only_the_brand_admin_reaches_its_endpoints(
    hooked: LiveServer, receiver: Receiver
) -> None:
    """A host gets 403; another brand's admin gets 404 on every endpoint route and an empty
    list; the secret shows on create and read, never in the list."""
    endpoint = await register(hooked, receiver, "mine")
    path = f"/api/webhooks/endpoints/{endpoint['endpoint_id']}"
    async with hooked.client(hooked.token("host", "h")) as client:
        assert (await client.get("/api/webhooks/endpoints")).status_code == 403
    stranger = hooked.token("admin", "a", brand="stranger")
    async with hooked.client(stranger) as client:
        for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/deliveries")]:
            answer = await client.request(method, path + suffix, json={})
            assert answer.status_code == 404, (method, suffix, answer.text)
        redeliver = await client.post(path + "/redeliver", json={"from_ms": 0, "to_ms": 1})
        assert redeliver.status_code == 404
        assert (await client.get("/api/webhooks/endpoints")).json()["items"] == []
    async with hooked.client(hooked.token("admin", "a")) as client:
        listed = (await client.get("/api/webhooks/endpoints")).json()["items"]
        read = (await client.get(path)).json()
    assert [e["endpoint_id"] for e in listed] == [endpoint["endpoint_id"]]
    assert "secret" not in listed[0]
    assert read["secret"] == endpoint["secret"].strip()


async def test_pausing_holds_deliveries_and_deleting_ends_them(
    hooked: LiveServer, receiver: Receiver
) -> None:
    """An inactive endpoint's deliveries wait; active again, they go; once deleted, its
    pending deliveries are dead and new events make none."""
    endpoint = await register(hooked, receiver, "paused", event_types=["session.scheduled"])
    path = f"/api/webhooks/endpoints/{endpoint['endpoint_id']}"
    admin = hooked.token("admin", "a")
    async with hooked.client(admin) as client:
        assert (await client.patch(path, json={"active": False})).json()["active"] is False
    async with hooked.client(hooked.token("host", "h")) as client:
        assert (await client.post("/api/sessions", json={"title": "t"})).status_code == 201

    async def statuses() -> list[str]:
        async with hooked.client(admin) as client:
            return [d["status"] for d in (await client.get(path + "/deliveries")).json()["items"]]

    async def one_pending() -> bool:
        return await statuses() == ["pending"]

    await eventually(one_pending)
    passes = hooked.context.webhooks.passes
    await eventually(lambda: _after(hooked, passes + 3))
    assert receiver.of("paused") == []
    async with hooked.client(admin) as client:
        assert (await client.patch(path, json={"active": True})).status_code == 200
    await receiver.wait_for("paused", 1, timeout_s=5 * UNIT_S)
    async with hooked.client(admin) as client:
        assert (await client.patch(path, json={"active": False})).status_code == 200
    async with hooked.client(hooked.token("host", "h")) as client:
        assert (await client.post("/api/sessions", json={"title": "u"})).status_code == 201

    async def two() -> bool:
        return sorted(await statuses()) == ["delivered", "pending"]

    await eventually(two)
    async with hooked.client(admin) as client:
        assert (await client.delete(path)).json() == {
            "endpoint_id": endpoint["endpoint_id"],
            "deleted": True,
        }
        assert (await client.get(path)).status_code == 404
        assert (await client.get("/api/webhooks/endpoints")).json()["items"] == []


async def _after(server: LiveServer, passes: int) -> bool:
    return server.context.webhooks.passes >= passes
