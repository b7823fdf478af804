"""Coalescing of a room's ephemeral traffic into one frame per tick."""

from hypothesis import given
from hypothesis import strategies as st

from common import codec
from realtime.tick import MAX_PURCHASES_PER_TICK, RoomTick


def _comment(number: int, user: str, text: str = "hello there", role: str = "viewer") -> bytes:
    frame = {
        "type": "comment",
        "id": str(number),
        "user": user,
        "user_id": user,
        "role": role,
        "text": text,
    }
    return codec.encode(frame)


def test_empty_tick_sends_nothing() -> None:
    """A quiet room produces no frame for anybody."""
    drained = RoomTick(comments_per_tick=5).drain()
    assert (drained.viewers, drained.hosts) == ([], [])


def test_stock_levels_merge_to_the_latest() -> None:
    """Several stock events in one tick become one frame with the latest level per product."""
    tick = RoomTick(comments_per_tick=5)
    tick.add_event("stock", codec.encode({"type": "stock", "levels": {"a": 5}}))
    tick.add_event("stock", codec.encode({"type": "stock", "levels": {"a": 4, "b": 9}}))
    assert tick.drain().viewers == [{"type": "stock", "levels": {"a": 4, "b": 9}}]
    assert tick.drain().viewers == []


def test_a_sell_out_rides_the_tick_after_its_stock_level() -> None:
    """``sold_out`` goes out whole, with its seq, after the level 0 it announces, to viewers
    and hosts alike, and once."""
    tick = RoomTick(comments_per_tick=5)
    sold_out = {"type": "sold_out", "seq": 8, "product_id": "a", "ts": 1, "t_ms": 2}
    tick.add_event("stock", codec.encode({"type": "stock", "levels": {"a": 0}, "seq": 7}))
    tick.add_event("sold_out", codec.encode(sold_out))
    drained = tick.drain()
    assert drained.viewers == [{"type": "stock", "levels": {"a": 0}}, sold_out]
    assert drained.hosts == drained.viewers
    assert tick.drain().viewers == []


def _versioned(event_type: str, version: int, **fields: object) -> bytes:
    return codec.encode({"type": event_type, "version": version, **fields})


def test_a_late_change_does_not_undo_a_newer_count() -> None:
    """Changes finish in any order: within a tick and across ticks the newest version wins."""
    tick = RoomTick(comments_per_tick=5)
    tick.add_event("coupon_left", _versioned("coupon_left", 3, coupon_id="c", left=0))
    tick.add_event("coupon_left", _versioned("coupon_left", 2, coupon_id="c", left=1))
    tick.add_event("stock", _versioned("stock", 5, levels={"a": 7}))
    assert tick.drain().viewers == [
        {"type": "stock", "levels": {"a": 7}},
        {"type": "coupon_left", "coupon_id": "c", "left": 0},
    ]
    tick.add_event("coupon_left", _versioned("coupon_left", 1, coupon_id="c", left=2))
    tick.add_event("stock", _versioned("stock", 4, levels={"a": 8}))
    assert tick.drain().viewers == []


@given(st.permutations(list(range(1, 9))), st.integers(min_value=1, max_value=8))
def test_the_count_shown_last_is_the_newest(order: list[int], per_tick: int) -> None:
    """Whatever the arrival order and tick boundaries, the last count sent is the newest."""
    tick = RoomTick(comments_per_tick=5)
    shown: list[int] = []
    for n, version in enumerate(order, start=1):
        tick.add_event("stock", _versioned("stock", version, levels={"a": 100 - version}))
        if n % per_tick == 0:
            shown += [f["levels"]["a"] for f in tick.drain().viewers]
    shown += [f["levels"]["a"] for f in tick.drain().viewers]
    assert shown[-1] == 100 - max(order)
    assert shown == sorted(shown, reverse=True)


def test_purchases_are_sampled() -> None:
    """At most MAX_PURCHASES_PER_TICK purchases go out per tick."""
    tick = RoomTick(comments_per_tick=5)
    for n in range(MAX_PURCHASES_PER_TICK + 5):
        frame = {"type": "purchase", "product_id": "p", "user": f"u{n}", "qty": 1, "seq": n}
        tick.add_event("purchase", codec.encode(frame))
    frames = tick.drain().viewers
    assert len(frames) == MAX_PURCHASES_PER_TICK
    assert frames[0] == {"type": "purchase", "product_id": "p", "user": "u0", "qty": 1}


def test_one_loud_viewer_cannot_fill_the_comment_sample() -> None:
    """Comments are picked round-robin across authors; the rest are counted as dropped."""
    tick = RoomTick(comments_per_tick=4)
    for n in range(1, 21):
        tick.add_comment(_comment(n, "loud", text=f"loud message number {n}"))
    tick.add_comment(_comment(21, "quiet-1"))
    tick.add_comment(_comment(22, "quiet-2", text="another thing"))
    (frame,) = tick.drain().viewers
    users = [item["user"] for item in frame["items"]]
    assert "quiet-1" in users
    assert "quiet-2" in users
    assert frame["dropped"] == 22 - 4


def test_host_and_guide_comments_come_first() -> None:
    """Under a flood, comments of hosts and guides are always in the sample."""
    tick = RoomTick(comments_per_tick=3)
    for n in range(1, 30):
        tick.add_comment(_comment(n, f"fan-{n}", text=f"fan message {n}"))
    tick.add_comment(_comment(30, "anchor", text="link below", role="host"))
    tick.add_comment(_comment(31, "guide-7", text="ask me", role="guide"))
    (frame,) = tick.drain().viewers
    texts = [item["text"] for item in frame["items"]]
    assert "link below" in texts
    assert "ask me" in texts


def test_identical_short_comments_are_merged() -> None:
    """Forty-two "666" become one item with count 42, and count as shown, not dropped."""
    tick = RoomTick(comments_per_tick=5)
    for n in range(1, 43):
        tick.add_comment(_comment(n, f"u{n}", text="666"))
    tick.add_comment(_comment(43, "x", text="what size is it?"))
    (frame,) = tick.drain().viewers
    merged = [item for item in frame["items"] if item["text"] == "666"]
    assert len(merged) == 1
    assert merged[0]["count"] == 42
    assert frame["dropped"] == 0


def test_hosts_get_every_comment_with_author_ids_and_stats() -> None:
    """The host channel carries the unsampled stream and per-tick stats; viewers see no ids."""
    tick = RoomTick(comments_per_tick=2)
    for n in range(1, 11):
        tick.add_comment(_comment(n, f"u{n}", text=f"message {n}"))
    drained = tick.drain()
    host_comments = drained.hosts[0]
    assert [item["user_id"] for item in host_comments["items"]] == [f"u{n}" for n in range(1, 11)]
    stats = next(f for f in drained.hosts if f["type"] == "stats")
    assert (stats["comments"], stats["comments_shown"]) == (10, 2)
    assert all("user_id" not in item for item in drained.viewers[0]["items"])


@given(
    authors=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=200),
    per_tick=st.integers(min_value=1, max_value=30),
)
def test_sampling_accounts_for_every_comment(authors: list[str], per_tick: int) -> None:
    """Sent plus dropped always equals received, sent never exceeds K, ids stay in order."""
    tick = RoomTick(comments_per_tick=per_tick)
    for number, user in enumerate(authors, start=1):
        tick.add_comment(_comment(number, user, text=f"unique comment {number}"))
    (frame,) = tick.drain().viewers
    ids = [int(item["id"]) for item in frame["items"]]
    assert len(ids) == min(per_tick, len(authors))
    assert len(ids) + frame["dropped"] == len(authors)
    assert ids == sorted(ids)
    assert len({item["user"] for item in frame["items"]}) == min(len(ids), len(set(authors)))
