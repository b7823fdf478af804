"""No reservation counted twice: generated bursts of concurrent reservations, repeated, through
two guides' codes or plain, on two nodes sharing the record, always leave one reservation per
viewer, made by exactly one of its requests, and totals that count each viewer once."""

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from live.db.models import ReservationRow
from live.db.unit import transaction
from tests.live.reservations.scheduling import schedule, share_of
from tests.support.servers import LiveServer, ServerWith
from tests.support.units import UNIT_S

EXAMPLES = 12
VIEWERS = [f"v{n}" for n in range(6)]


@dataclass(frozen=True)
class Attempt:
    """One request of a burst: who, on which node, through which guide's code (or none)."""

    viewer: str
    node: int
    guide: str | None


ATTEMPTS = st.builds(
    Attempt,
    viewer=st.sampled_from(VIEWERS),
    node=st.integers(0, 1),
    guide=st.sampled_from([None, "guide-a", "guide-b"]),
)
BURSTS = st.lists(ATTEMPTS, min_size=1, max_size=24)


async def _burst(nodes: list[LiveServer], attempts: list[Attempt]) -> dict[str, Any]:
    """Fire the burst at once against a fresh scheduled session; what came back and stayed."""
    session_id, _ = await schedule(nodes[0])
    codes = {g: await share_of(nodes[0], session_id, g) for g in ("guide-a", "guide-b")}

    async def one(attempt: Attempt) -> tuple[str, int, str]:
        node = nodes[attempt.node]
        token = node.token("viewer", attempt.viewer)
        body = {"share": codes[attempt.guide]} if attempt.guide else {}
        async with node.client(token) as client:
            answer = await client.post(f"/api/sessions/{session_id}/reservations", json=body)
        return attempt.viewer, answer.status_code, answer.json().get("reservation_id", "")

    answers = await asyncio.gather(*(one(a) for a in attempts))
    async with transaction(nodes[1].context.db) as db:
        rows = Counter(
            await db.scalars(
                select(ReservationRow.viewer_id).where(ReservationRow.session_id == session_id)
            )
        )
        active = await db.scalar(
            select(func.count()).where(
                ReservationRow.session_id == session_id, ReservationRow.status == "active"
            )
        )
    async with nodes[1].client(nodes[1].token("host", "host-1")) as host:
        totals = (await host.get(f"/api/sessions/{session_id}/reservations")).json()
    return {"answers": answers, "rows": rows, "active": active, "totals": totals}


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_concurrent_reservations_on_two_nodes_count_each_viewer_once(
    server: LiveServer, server_with: ServerWith
) -> None:
    """Per generated burst: one row per viewer, one 201 per viewer (the others 200 with the
    same id), and the host's total equals the number of distinct viewers."""
    nodes = [server, await server_with()]
    nodes[1].brand = server.brand
    loop = asyncio.get_running_loop()
    problems: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(attempts=BURSTS)
    def check(attempts: list[Attempt]) -> None:
        outcome = asyncio.run_coroutine_threadsafe(_burst(nodes, attempts), loop).result(
            timeout=60 * UNIT_S
        )
        viewers = {a.viewer for a in attempts}
        made = Counter(viewer for viewer, status, _ in outcome["answers"] if status == 201)
        ids = {
            viewer: {rid for v, _, rid in outcome["answers"] if v == viewer} for viewer in viewers
        }
        if any(status not in (200, 201) for _, status, _ in outcome["answers"]):
            problems.append(f"{attempts}: {outcome['answers']}")
        if dict(outcome["rows"]) != dict.fromkeys(viewers, 1):
            problems.append(f"{attempts}: rows {outcome['rows']}")
        if dict(made) != dict.fromkeys(viewers, 1):
            problems.append(f"{attempts}: made {made}")
        if any(len(found) != 1 for found in ids.values()):
            problems.append(f"{attempts}: ids {ids}")
        if not (outcome["active"] == outcome["totals"]["total"] == len(viewers)):
            problems.append(f"{attempts}: totals {outcome['totals']}, active {outcome['active']}")

    await asyncio.to_thread(check)
    assert not problems, "\n".join(problems[:5])
