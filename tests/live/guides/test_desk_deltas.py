"""A guide's desk, sans I/O: the delta frames a workspace folds add up to the full state, and a
desk lists only viewers present."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from live.guides.viewers_now import Desk, Loaded, Watcher

VIEWERS = ("v1", "v2", "v3")
PRODUCTS = ("p1", "p2")

deltas = st.one_of(
    st.builds(
        lambda v, t: {"op": "arrived", "viewer_id": v, "name": v, "since_ms": t},
        st.sampled_from(VIEWERS),
        st.integers(0, 100),
    ),
    st.builds(lambda v: {"op": "left", "viewer_id": v}, st.sampled_from(VIEWERS)),
    st.builds(
        lambda p, t: {"op": "pin", "product_id": p, "ts": t},
        st.one_of(st.none(), st.sampled_from(PRODUCTS)),
        st.integers(0, 100),
    ),
    st.builds(
        lambda v, o, s: {
            "op": "hold",
            "viewer_id": v,
            "order_id": f"o{o}",
            "product_id": "p1",
            "status": s,
            "expires_ms": 5,
        },
        st.sampled_from(VIEWERS),
        st.integers(0, 3),
        st.sampled_from(("reserved", "expired", "paid", "cancelled")),
    ),
    st.builds(
        lambda v, p, w: {"op": "waitlist", "viewer_id": v, "product_id": p, "waiting": w},
        st.sampled_from(VIEWERS),
        st.sampled_from(PRODUCTS),
        st.booleans(),
    ),
)


def _fold(shown: dict[str, dict[str, Any]], frame: dict[str, Any]) -> None:
    if frame["full"]:
        shown.clear()
    for viewer_id in frame["gone"]:
        shown.pop(viewer_id, None)
    for entry in frame["viewers"]:
        shown[entry["viewer_id"]] = entry
    listed = {entry["viewer_id"] for entry in frame["viewers"]}
    for product_id in frame.get("pins", []):
        for entry in shown.values():
            if entry["viewer_id"] not in listed and product_id not in entry["pinned"]:
                entry["pinned"] = [*entry["pinned"], product_id]


@settings(max_examples=1_000)
@given(st.lists(st.lists(deltas, max_size=6), max_size=8))
def test_folded_deltas_equal_the_full_state(rounds: list[list[dict[str, Any]]]) -> None:
    """Whatever deltas arrive between pushes, the workspace that folds each push's frame shows
    what a fresh full frame would (deltas stamped in the order the control stream gives them,
    as one stream orders them)."""
    clock = iter(range(1, 10_000))
    for batch in rounds:
        for delta in batch:
            if "ts" in delta:
                delta["ts"] = next(clock)
            if "since_ms" in delta:
                delta["since_ms"] = next(clock)
    desk = Desk("s1", "g1")
    desk.load(Loaded(present=[Watcher("v1", "V1", 0)]))
    shown: dict[str, dict[str, Any]] = {}
    opening = desk.frame(now_ms=0)
    assert opening is not None
    assert opening["full"]
    _fold(shown, opening)
    for batch in rounds:
        for delta in batch:
            desk.apply(delta)
        frame = desk.frame(now_ms=1_000)
        if frame is not None:
            _fold(shown, frame)
    desk.reopen()
    full = desk.frame(now_ms=1_000)
    assert full is not None
    assert shown == {entry["viewer_id"]: entry for entry in full["viewers"]}
    assert set(shown) == set(desk.present)


def test_pins_while_watching_start_with_the_one_pinned_on_arrival() -> None:
    """A viewer who arrived while p1 was pinned, then saw p2 and an unpin, watched p1 and p2."""
    desk = Desk("s1", "g1")
    for ts, product in ((10, "p1"), (30, "p2"), (40, None), (50, "p1")):
        desk.apply({"op": "pin", "ts": ts, "product_id": product})
    assert desk.pinned_since(20) == ["p1", "p2"]
    assert desk.pinned_since(45) == ["p1"]
    assert desk.pinned_since(5) == ["p1", "p2"]
    assert desk.pinned_since(60) == ["p1"]


def test_a_viewer_who_left_while_loading_is_not_brought_back() -> None:
    """The load read before a departure does not list the viewer again."""
    desk = Desk("s1", "g1")
    desk.apply({"op": "left", "viewer_id": "v1"})
    desk.load(Loaded(present=[Watcher("v1", "V1", 0), Watcher("v2", "V2", 0)]))
    frame = desk.frame(now_ms=1)
    assert frame is not None
    assert [entry["viewer_id"] for entry in frame["viewers"]] == ["v2"]
    assert desk.frame(now_ms=2) is None
