"""``/metrics`` through prometheus-client: every metric name the node ever served is still
there, read by prometheus-client's own parser, with latency per route class; and under
`live serve --workers 2` a scrape of either worker sums both."""

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests.live.cli.test_workers import Workers, _owned, workers  # noqa: F401 - the fixture
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

ROOT = Path(__file__).resolve().parents[3]

#: Every metric /metrics served before prometheus-client (names as the parser gives them).
KEPT = {
    "live_rooms": "gauge",
    "live_room_sockets": "gauge",
    "live_ephemeral_frames_skipped": "gauge",
    "live_frames_sent": "counter",
    "live_frames_queued": "counter",
    "live_frames_dropped": "counter",
    "live_slow_viewers_closed": "counter",
    "live_tick_lag_seconds": "histogram",
    "live_order_admission_seconds": "histogram",
    "live_archive_lag_events": "gauge",
    "live_stock_invariant_broken": "gauge",
    "live_http_responses": "counter",
}
NEW = {
    "live_http_request_duration_seconds": "histogram",
    "live_webhook_backlog": "gauge",
    "live_webhook_in_flight": "gauge",
    "live_webhook_attempts": "counter",
    "live_sold_out_refusals": "counter",
}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_every_metric_is_kept_and_route_classes_are_timed(server: LiveServer) -> None:
    """The parser finds every old name with its type, the new ones, and one latency histogram
    per route class that answered."""
    opened = await open_session(server)
    token = server.token("viewer", "buyer")
    async with server.client(token) as viewer:
        bought = await viewer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "m1"},
        )
        assert bought.status_code == 201
        assert (await viewer.get(f"/api/sessions/{opened.session_id}")).status_code == 200
        assert (await viewer.get("/host")).status_code == 200
        answer = await viewer.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f.type for f in text_string_to_metric_families(answer.text)}
    assert {**KEPT, **NEW}.items() <= families.items()
    text = answer.text
    assert 'live_http_responses_total{status="201"}' in text
    for route_class in ("order", "write", "read", "page"):
        count = _value(text, "live_http_request_duration_seconds_count", route_class=route_class)
        assert count >= 1, route_class
    assert _value(text, "live_order_admission_seconds_count") == 1
    assert _value(text, "live_webhook_backlog") >= 0


async def _get_404(port: int) -> int:
    """GET an unknown path on a new connection; the client port it came from."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /nope HTTP/1.1\r\nHost: test\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT_S)
        assert head.startswith(b"HTTP/1.1 404"), head
        return int(writer.get_extra_info("sockname")[1])
    finally:
        writer.close()


async def test_two_workers_add_up(workers: Workers) -> None:  # noqa: F811 - the fixture
    """404s answered by both workers and sockets held by both are summed in one scrape."""
    per_worker: Counter[int] = Counter()
    async with asyncio.timeout(30 * UNIT_S):
        while len(per_worker) < 2 or sum(per_worker.values()) < 20:
            client_port = await _get_404(workers.port)
            per_worker[await _owned(workers, client_port)] += 1
    host = workers.token("host", "h1")
    base = f"http://127.0.0.1:{workers.port}"
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {host}"}) as c:
        session_id = (await c.post("/api/sessions", json={"title": "t"})).json()["id"]
        assert (await c.post(f"/api/sessions/{session_id}/start")).status_code == 200
    url = f"ws://127.0.0.1:{workers.port}/ws/sessions/{session_id}?token="
    sockets: list[Any] = []
    held: Counter[int] = Counter()
    try:
        async with asyncio.timeout(30 * UNIT_S):
            while len(held) < 2 or sum(held.values()) < 4:
                socket = await connect(url + workers.token("viewer", f"v{len(sockets)}"))
                sockets.append(socket)
                held[await _owned(workers, socket.local_address[1])] += 1
        rooms = [Room(socket) for socket in sockets]
        for room in rooms:
            await room.wait_type("snapshot")
        total_404 = sum(per_worker.values())

        async def summed() -> bool:
            async with httpx.AsyncClient(base_url=base) as client:
                text = (await client.get("/metrics")).text
            return _value(text, "live_http_responses_total", status="404") == total_404 and _value(
                text, "live_room_sockets"
            ) == len(sockets)

        await eventually(summed, timeout_s=10 * UNIT_S)
    finally:
        for socket in sockets:
            await socket.close()
    assert max(per_worker.values()) < total_404, "each worker answered some"
    assert max(held.values()) < len(sockets), "each worker holds some sockets"


async def test_the_dashboard_queries_only_served_metrics(server: LiveServer) -> None:
    """Every series docs/grafana-dashboard.json queries is one /metrics serves."""
    dashboard = json.loads((ROOT / "docs/grafana-dashboard.json").read_text("utf-8"))
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\blive_[a-z_]+", target["expr"])
    }
    async with server.client() as client:
        text = (await client.get("/metrics")).text
    families = list(text_string_to_metric_families(text))
    served = {sample.name for family in families for sample in family.samples}
    # A labelled counter no answer has reached yet has no sample, but it is served.
    served |= {f"{family.name}_total" for family in families if family.type == "counter"}
    assert queried, "no query found"
    assert queried <= served, sorted(queried - served)
