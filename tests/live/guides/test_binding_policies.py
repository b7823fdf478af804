"""Binding policies resolved over touch sequences, table-driven, on a real Redis: each row is a
policy, a sequence of events on a day clock, and the guide the viewer is bound to at the end.

The same sequences are the worked examples of docs/attribution.md.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from live.guides import attribution
from live.guides.attribution import FIRST_TOUCH, LAST_TOUCH, Binding, Policy

DAY_MS = 86_400_000
WEEK_S = 7 * 86_400
#: Day 100 of the clock: far from 0, as real Unix times are.
EPOCH_MS = 100 * DAY_MS

LAST = Policy(kind=LAST_TOUCH, window_s=WEEK_S)
FIRST = Policy(kind=FIRST_TOUCH, protection_s=WEEK_S)
LAST_LOCKED = Policy(kind=LAST_TOUCH, window_s=WEEK_S, extend_on_order=True)
FIRST_LOCKED = Policy(kind=FIRST_TOUCH, protection_s=WEEK_S, extend_on_order=True)
LAST_NEW_ONLY = Policy(kind=LAST_TOUCH, window_s=WEEK_S, new_customers_only=True)

#: (name, policy, events, bound guide at the end). Events: ("touch", guide, day),
#: ("touch_as_customer", guide, day), ("order", guide, day), ("check", None, day).
SEQUENCES = [
    ("last touch: a later guide wins", LAST, [("touch", "ann", 0), ("touch", "bo", 1)], "bo"),
    ("last touch: the window lapses", LAST, [("touch", "ann", 0), ("check", None, 7.5)], None),
    (
        "last touch: touching again restarts the window",
        LAST,
        [("touch", "ann", 0), ("touch", "ann", 6), ("check", None, 12)],
        "ann",
    ),
    ("first touch: the first guide keeps", FIRST, [("touch", "ann", 0), ("touch", "bo", 6)], "ann"),
    (
        "first touch: after the protection the next touch binds",
        FIRST,
        [("touch", "ann", 0), ("touch", "bo", 7.5)],
        "bo",
    ),
    (
        "first touch: touching again does not extend the protection",
        FIRST,
        [("touch", "ann", 0), ("touch", "ann", 5), ("touch", "bo", 7.5)],
        "bo",
    ),
    (
        "first touch + lock extension: an order restarts the protection",
        FIRST_LOCKED,
        [("touch", "ann", 0), ("order", "ann", 6), ("touch", "bo", 10)],
        "ann",
    ),
    (
        "first touch + lock extension: it lapses a week after the order",
        FIRST_LOCKED,
        [("touch", "ann", 0), ("order", "ann", 6), ("touch", "bo", 13.5)],
        "bo",
    ),
    (
        "last touch + lock extension: an order restarts the window",
        LAST_LOCKED,
        [("touch", "ann", 0), ("order", "ann", 6), ("check", None, 12)],
        "ann",
    ),
    (
        "without lock extension an order changes nothing",
        FIRST,
        [("touch", "ann", 0), ("order", "ann", 6), ("touch", "bo", 7.5)],
        "bo",
    ),
    (
        "an order credited to another guide extends nothing",
        LAST_LOCKED,
        [("touch", "ann", 0), ("order", "bo", 6), ("check", None, 7.5)],
        None,
    ),
    (
        "new customers only: an existing customer is never bound",
        LAST_NEW_ONLY,
        [("touch_as_customer", "ann", 0)],
        None,
    ),
    (
        "new customers only: a new customer is bound",
        LAST_NEW_ONLY,
        [("touch", "ann", 0)],
        "ann",
    ),
    (
        "new customers only: once a customer, later touches change nothing",
        LAST_NEW_ONLY,
        [("touch", "ann", 0), ("touch_as_customer", "bo", 1)],
        "ann",
    ),
]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the shared Redis-protocol server."""
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("policy", "events", "expected"),
    [
        pytest.param(policy, events, expected, id=name)
        for name, policy, events, expected in SEQUENCES
    ],
)
async def test_touch_sequences_resolve_as_documented(
    redis: Redis,
    policy: Policy,
    events: list[tuple[str, str | None, float]],
    expected: str | None,
) -> None:
    """The viewer's guide after the sequence (checked at the day of the last event)."""
    brand, viewer = f"brand-{uuid.uuid4().hex[:8]}", "viewer-1"
    at = EPOCH_MS
    for kind, guide, day in events:
        at = EPOCH_MS + int(day * DAY_MS)
        if kind in ("touch", "touch_as_customer"):
            assert guide is not None
            binding = Binding(guide_id=guide, store=None, session_id="s", touch_ms=at)
            await attribution.touch(
                redis,
                brand,
                viewer,
                binding,
                policy,
                is_customer=kind == "touch_as_customer",
            )
        elif kind == "order":
            assert guide is not None
            await attribution.extend(redis, brand, viewer, guide, policy, now_ms=at)
    bound = await attribution.lookup(redis, brand, viewer, now_ms=at)
    assert (bound.guide_id if bound else None) == expected
    if bound is not None:
        assert bound.policy == policy.kind


async def test_concurrent_touches_leave_one_consistent_binding(redis: Redis) -> None:
    """Fifty guides touching one viewer at once under first touch: exactly one keeps it."""
    brand, viewer = f"brand-{uuid.uuid4().hex[:8]}", "viewer-1"
    outcomes = await asyncio.gather(
        *(
            attribution.touch(
                redis,
                brand,
                viewer,
                Binding(guide_id=f"g{n}", store=None, session_id="s", touch_ms=EPOCH_MS),
                FIRST,
            )
            for n in range(50)
        )
    )
    assert sorted(outcomes).count("bound") == 1
    assert sorted(outcomes).count("kept") == 49
    bound = await attribution.lookup(redis, brand, viewer, now_ms=EPOCH_MS + 1)
    assert bound is not None
    assert bound.guide_id == f"g{outcomes.index('bound')}"
