"""``GET /api/sessions/{id}/replay`` as streamed NDJSON, beside the default JSON array."""

import orjson

from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession

NDJSON = {"Accept": "application/x-ndjson"}


async def test_replay_streams_one_event_per_line_when_asked(
    server: LiveServer, opened: OpenSession
) -> None:
    """With Accept: application/x-ndjson each line is one event, the same as the JSON array."""
    sid = opened.session_id
    room = await Room.join(server.ws_url(sid, server.token("viewer", "v")))
    await room.wait_type("snapshot")
    for n in range(3):
        await room.send({"type": "comment", "text": f"c{n}", "ref": str(n)})
        await room.wait_type("ack")
    await room.close()
    async with server.client(opened.host_token) as host:
        early = await host.get(f"/api/sessions/{sid}/replay", headers=NDJSON)
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "session_not_live"
        await host.post(f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id})
        await host.post(f"/api/sessions/{sid}/end")

        async def archived() -> bool:
            answer = await host.get(f"/api/sessions/{sid}/replay")
            return answer.status_code == 200

        await eventually(archived)
        array = (await host.get(f"/api/sessions/{sid}/replay")).json()
        lines: list[bytes] = []
        async with host.stream("GET", f"/api/sessions/{sid}/replay", headers=NDJSON) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/x-ndjson"
            async for line in answer.aiter_lines():
                lines.append(line.encode())
        refused = await host.get(
            f"/api/sessions/{sid}/replay",
            headers={"Accept": "application/x-ndjson;q=0, application/json"},
        )

    assert [orjson.loads(line) for line in lines] == array
    assert [e["text"] for e in array if e["type"] == "comment"] == ["c0", "c1", "c2"]
    assert refused.headers["content-type"] == "application/json"
    assert refused.json() == array


async def test_replay_window_streams_as_ndjson(server: LiveServer, opened: OpenSession) -> None:
    """from_ms / to_ms select the same events in NDJSON as in the JSON array."""
    sid = opened.session_id
    async with server.client(opened.host_token) as host:
        for _ in range(3):
            await host.post(f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id})
        await host.post(f"/api/sessions/{sid}/end")

        async def archived() -> bool:
            answer = await host.get(f"/api/sessions/{sid}/replay")
            return answer.status_code == 200

        await eventually(archived)
        everything = (await host.get(f"/api/sessions/{sid}/replay")).json()
        middle = everything[len(everything) // 2]["t_ms"]
        window = {"from_ms": middle, "to_ms": middle}
        array = (await host.get(f"/api/sessions/{sid}/replay", params=window)).json()
        streamed = await host.get(f"/api/sessions/{sid}/replay", params=window, headers=NDJSON)

    assert array
    assert all(event["t_ms"] == middle for event in array)
    assert [orjson.loads(line) for line in streamed.text.splitlines()] == array
