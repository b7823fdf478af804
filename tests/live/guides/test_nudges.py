"""Nudges: a guide's private coupons come from a per-session budget that concurrent nudges on
two nodes never overspend; only the viewer nudged may claim one, and its orders are the
guide's."""

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from live.db.models import CouponRow
from live.db.unit import transaction
from live.guides import budgets
from tests.live.guides.workspace_world import frame_where, viewer_through, workspace
from tests.support.clients import Room
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session


@pytest.fixture
async def pair(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two nodes over the same engines."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        yield nodes[0], nodes[1]


async def _budget(node: LiveServer, host_token: str, sid: str, guide: str, **caps: int) -> None:
    async with node.client(host_token) as host:
        answer = await host.put(f"/api/sessions/{sid}/guides/{guide}/budget", json=caps)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_concurrent_nudges_from_two_nodes_never_overspend(
    pair: tuple[LiveServer, LiveServer], seed: int
) -> None:
    """Forty nudges of random values at once through both nodes: the coupons written never
    exceed the count cap or the value cap, each success is one coupon, and a spent budget
    answers budget_exhausted."""
    rng = random.Random(seed)
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    count, cap = rng.randint(3, 12), rng.randint(1_000, 6_000)
    await _budget(a, opened.host_token, sid, "guide-g", count=count, value_cap_cents=cap)
    viewers = [await viewer_through(a, b, sid, "guide-g", f"v{n}") for n in range(4)]
    values = [rng.choice((100, 300, 500, 1_000, 2_000)) for _ in range(40)]

    async def nudge(n: int, value: int) -> tuple[int, int]:
        node = (a, b)[n % 2]
        async with node.client(node.token("guide", "guide-g")) as guide:
            answer = await guide.post(
                f"/api/sessions/{sid}/nudges",
                json={"viewer_id": f"v{n % 4}", "value_cents": value},
            )
        if answer.status_code != 201:
            assert answer.json()["error"]["code"] == "budget_exhausted", answer.text
        return answer.status_code, value

    outcomes = await asyncio.gather(*(nudge(n, v) for n, v in enumerate(values)))
    sent = [value for status, value in outcomes if status == 201]
    assert 0 < len(sent) <= count
    assert sum(sent) <= cap
    async with transaction(a.context.db) as db:
        coupons = list(
            await db.scalars(
                select(CouponRow).where(
                    CouponRow.session_id == sid, CouponRow.guide_id.is_not(None)
                )
            )
        )
    assert sorted(c.value for c in coupons) == sorted(sent)
    # A refused nudge was refused for a reason: after the run, the cheapest refused one no
    # longer fits (or the count is spent).
    refused = [value for status, value in outcomes if status != 201]
    if refused:
        assert len(sent) == count or sum(sent) + min(refused) > cap
    async with a.client(opened.host_token) as host:
        listed = (await host.get(f"/api/sessions/{sid}/budgets")).json()["items"]
    assert listed == [
        {
            "session_id": sid,
            "guide_id": "guide-g",
            "count": count,
            "value_cap_cents": cap,
            "count_left": count - len(sent),
            "value_left_cents": cap - sum(sent),
        }
    ]
    for room in viewers:
        await room.close()


async def test_nudged_viewer_claims_and_buys_for_the_guide(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """The guide on B nudges their viewer on A: the coupon arrives privately, only that viewer
    can claim it, the room's snapshot never lists it, the order it pays is the guide's even
    after the viewer's binding moved to another guide, and the desk shows the budget left."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    await _budget(a, opened.host_token, sid, "guide-g", count=2, value_cap_cents=1_500)
    desk = await workspace(b, sid, "guide-g")
    viewer = await viewer_through(a, b, sid, "guide-g", "v1")
    other = await viewer_through(a, b, sid, "guide-h", "v2")
    async with b.client(b.token("guide", "guide-g", name="Gina")) as guide:
        not_mine = await guide.post(
            f"/api/sessions/{sid}/nudges", json={"viewer_id": "v2", "value_cents": 500}
        )
        assert not_mine.status_code == 403
        sent = await guide.post(
            f"/api/sessions/{sid}/nudges", json={"viewer_id": "v1", "value_cents": 1_000}
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["budget"]["count_left"] == 1
        assert sent.json()["budget"]["value_left_cents"] == 500
        too_much = await guide.post(
            f"/api/sessions/{sid}/nudges", json={"viewer_id": "v1", "value_cents": 600}
        )
        assert too_much.json()["error"]["code"] == "budget_exhausted"
    budget_frame = await frame_where(desk, lambda f: (f.get("budget") or {}).get("count_left") == 1)
    assert budget_frame["budget"]["value_left_cents"] == 500
    nudge = await viewer.wait_for(lambda f: f.get("type") == "private")
    coupon_id = nudge["coupon"]["coupon_id"]
    assert nudge["kind"] == "nudge"
    assert nudge["from"] == "Gina"
    assert nudge["coupon"]["value"] == 1_000
    assert not [f for f in other.frames if f.get("type") == "private"]
    await other.send({"type": "claim", "coupon_id": coupon_id, "ref": "steal"})
    stolen = await other.wait_for(lambda f: f.get("ref") == "steal")
    assert stolen["type"] == "error"
    assert stolen["code"] == "forbidden"
    await viewer.send({"type": "claim", "coupon_id": coupon_id, "ref": "mine"})
    claimed = await viewer.wait_for(lambda f: f.get("ref") == "mine")
    assert claimed["type"] == "ack", claimed
    late = await Room.join(a.ws_url(sid, a.token("viewer", "v3")))
    snapshot = await late.wait_type("snapshot")
    assert all(c["coupon_id"] != coupon_id for c in snapshot["coupons"])
    # The viewer follows another guide's link meanwhile: the coupon's order is still G's.
    await viewer.close()
    viewer = await viewer_through(a, b, sid, "guide-h", "v1")
    async with a.client(a.token("viewer", "v1")) as buyer:
        order = await buyer.post(
            f"/api/sessions/{sid}/orders",
            json={"product_id": opened.product_id, "qty": 1, "coupon_id": coupon_id},
            headers={"Idempotency-Key": "nudged"},
        )
    assert order.status_code == 201, order.text
    assert order.json()["guide_id"] == "guide-g"
    assert order.json()["amount_cents"] == 19_900 - 1_000
    async with b.client(b.token("guide", "guide-g")) as guide:
        mine = (await guide.get("/api/guides/me/orders", params={"session_id": sid})).json()
    assert [o["order_id"] for o in mine["items"]] == [order.json()["order_id"]]
    for room in (desk, viewer, other, late):
        await room.close()


async def test_budget_lost_in_redis_is_rebuilt_from_the_record(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """With the counters gone from Redis, the next nudge rebuilds them from the record: what
    the written coupons spent stays spent."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    await _budget(a, opened.host_token, sid, "guide-g", count=2, value_cap_cents=1_000)
    viewer = await viewer_through(a, b, sid, "guide-g", "v1")
    async with b.client(b.token("guide", "guide-g")) as guide:
        first = await guide.post(
            f"/api/sessions/{sid}/nudges", json={"viewer_id": "v1", "value_cents": 700}
        )
        assert first.status_code == 201, first.text
        await a.context.redis.delete(budgets.key(sid, "guide-g"))
        over = await guide.post(
            f"/api/sessions/{sid}/nudges", json={"viewer_id": "v1", "value_cents": 400}
        )
        assert over.json()["error"]["code"] == "budget_exhausted"
        fits = await guide.post(
            f"/api/sessions/{sid}/nudges", json={"viewer_id": "v1", "value_cents": 300}
        )
        assert fits.status_code == 201, fits.text
        assert fits.json()["budget"] == {
            "session_id": sid,
            "guide_id": "guide-g",
            "count": 2,
            "value_cap_cents": 1_000,
            "count_left": 0,
            "value_left_cents": 0,
        }
    await viewer.close()


async def test_budgets_and_nudges_refuse_other_roles_and_brands(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """Only hosts set budgets, only guides nudge, and nobody reaches another brand's session;
    a guide without a budget gets budget_exhausted."""
    a, _ = pair
    opened = await open_session(a)
    sid = opened.session_id
    async with a.client(a.token("guide", "guide-g")) as guide:
        denied = await guide.put(
            f"/api/sessions/{sid}/guides/guide-g/budget", json={"count": 9, "value_cap_cents": 9}
        )
        assert denied.status_code == 403
        none = await guide.post(
            f"/api/sessions/{sid}/nudges", json={"viewer_id": "v1", "value_cents": 100}
        )
        assert none.json()["error"]["code"] == "budget_exhausted"
        bad = await guide.post(f"/api/sessions/{sid}/nudges", json={"viewer_id": "v1"})
        assert bad.status_code == 422
    async with a.client(a.token("host", "host-x", brand="other-brand")) as stranger:
        hidden = await stranger.put(
            f"/api/sessions/{sid}/guides/guide-g/budget", json={"count": 1, "value_cap_cents": 1}
        )
        assert hidden.status_code == 404
        questions = await stranger.get(f"/api/sessions/{sid}/questions")
        assert questions.status_code == 404
    async with a.client(a.token("viewer", "v1")) as viewer:
        assert (await viewer.post(f"/api/sessions/{sid}/nudges", json={})).status_code == 403
