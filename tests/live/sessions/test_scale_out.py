"""Two or three app instances sharing one Redis and one database serve one room consistently."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import Room
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

DURABLE = ("pin", "unpin")


@pytest.fixture
async def pair(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two instances on their own ports over the same engines and archive."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        yield nodes[0], nodes[1]


async def test_pin_on_one_node_reaches_viewers_of_both(pair: tuple[LiveServer, LiveServer]) -> None:
    """Durable events published through A arrive, in the same order, at viewers on A and B."""
    a, b = pair
    opened = await open_session(a)
    on_a = await Room.join(a.ws_url(opened.session_id, a.token("viewer", "va")))
    on_b = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "vb")))
    await on_a.wait_type("snapshot")
    await on_b.wait_type("snapshot")
    async with a.client(opened.host_token) as host_a, b.client(opened.host_token) as host_b:
        await host_a.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        await host_b.delete(f"/api/sessions/{opened.session_id}/pin")
        await host_a.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
    seen_a = [await on_a.wait_for(lambda f: f.get("type") in DURABLE) for _ in range(3)]
    seen_b = [await on_b.wait_for(lambda f: f.get("type") in DURABLE) for _ in range(3)]
    assert [f["type"] for f in seen_a] == ["pin", "unpin", "pin"]
    assert seen_a == seen_b
    await on_b.send({"type": "comment", "text": "from b", "ref": "1"})
    batch = await on_a.wait_type("comments")
    assert batch["items"][0]["text"] == "from b"
    viewers = await on_a.wait_for(lambda f: f.get("type") == "viewers" and f["count"] == 2)
    assert viewers["count"] == 2
    await on_a.close()
    await on_b.close()


async def test_buyers_on_both_nodes_never_oversell(pair: tuple[LiveServer, LiveServer]) -> None:
    """120 buyers spread over two nodes for 25 units: exactly 25 reserved."""
    a, b = pair
    opened = await open_session(a, stock=25, limit=1)

    async def buy(node: LiveServer, n: int) -> int:
        async with httpx.AsyncClient(base_url=node.base_url, timeout=60 * UNIT_S) as client:
            answer = await client.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={
                    "Authorization": f"Bearer {node.token('viewer', f'b{n}')}",
                    "Idempotency-Key": f"k{n}",
                },
            )
        return answer.status_code

    statuses = await asyncio.gather(*(buy(a if n % 2 else b, n) for n in range(120)))
    assert Counter(statuses) == {201: 25, 409: 95}
    async with b.client(opened.host_token) as host:
        session = (await host.get(f"/api/sessions/{opened.session_id}")).json()
    assert session["products"][0]["stock"] == 0


async def test_three_nodes_give_every_viewer_one_order_of_durable_events(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """Hosts on three nodes pin and unpin at once: viewers on all three see one gapless order."""
    per_node = 15
    async with cluster(tmp_path, 3, database_url=database_url, redis_url=redis_url) as nodes:
        opened = await open_session(nodes[0])
        rooms = [
            await Room.join(node.ws_url(opened.session_id, node.token("viewer", f"v{n}-{i}")))
            for n, node in enumerate(nodes)
            for i in range(2)
        ]
        snapshots = [await room.wait_type("snapshot") for room in rooms]
        start = snapshots[0]["seq"]
        assert {s["seq"] for s in snapshots} == {start}

        async def host_burst(node: LiveServer) -> list[int]:
            path = f"/api/sessions/{opened.session_id}/pin"
            async with node.client(opened.host_token) as host:
                answers = await asyncio.gather(
                    *(
                        host.post(path, json={"product_id": opened.product_id})
                        if i % 2 == 0
                        else host.delete(path)
                        for i in range(per_node)
                    )
                )
            return [answer.status_code for answer in answers]

        statuses = await asyncio.gather(*(host_burst(node) for node in nodes))
        assert statuses == [[200] * per_node] * 3
        total = 3 * per_node
        seen = [
            [await room.wait_for(lambda f: f.get("type") in DURABLE) for _ in range(total)]
            for room in rooms
        ]
        assert [f["seq"] for f in seen[0]] == list(range(start + 1, start + 1 + total))
        assert Counter(f["type"] for f in seen[0]) == {"pin": 24, "unpin": 21}
        for other in seen[1:]:
            assert other == seen[0]
        for room in rooms:
            await room.close()
