"""The fan-out benchmark's pin order check accepts one order, cut only at the end."""

import pytest

from loadtests import durable_order

PUBLISHED = [4, 7, 9, 12, 15]


def test_viewers_with_every_pin_in_order_are_identical() -> None:
    """Every sampled viewer with the whole published list: ok, all complete."""
    verdict = durable_order.check(PUBLISHED, {"a": PUBLISHED, "b": list(PUBLISHED)})
    assert verdict.ok
    assert (verdict.viewers, verdict.complete, verdict.cut) == (2, 2, 0)
    assert verdict.summary().startswith("ok: identical order; 2 of 2")


def test_a_tail_not_yet_arrived_is_a_cut_not_a_violation() -> None:
    """A viewer that stopped early (closed, or the wait ended) holds a prefix: ok, counted cut."""
    verdict = durable_order.check(PUBLISHED, {"a": PUBLISHED, "b": [4, 7], "c": []})
    assert verdict.ok
    assert (verdict.complete, verdict.cut) == (1, 2)
    assert "2 cut at the end" in verdict.summary()


@pytest.mark.parametrize(
    ("got", "problem"),
    [
        ([4, 9, 12, 15], "pin 9 where 7 was due (position 1): a gap or a reordering"),
        ([7, 9, 12, 15], "pin 7 where 4 was due (position 0): a gap or a reordering"),
        ([4, 9, 7, 12, 15], "pin 9 where 7 was due (position 1): a gap or a reordering"),
        ([4, 7, 7, 9, 12, 15], "pin 7 twice (position 2)"),
        ([4, 7, 9, 12, 4], "pin 4 twice (position 4)"),
        ([4, 7, 8, 12, 15], "pin 8 was never published (position 2)"),
        ([4, 7, 9, 12, 15, 16], "pin 16 after the last one published (position 5)"),
    ],
)
def test_a_gap_a_duplicate_a_reordering_or_a_stranger_is_a_violation(
    got: list[int], problem: str
) -> None:
    """Anything but a prefix of the published list fails, naming the viewer and the pin."""
    verdict = durable_order.check(PUBLISHED, {"a": PUBLISHED, "node 2 viewer": got})
    assert not verdict.ok
    assert verdict.problems == [f"node 2 viewer: {problem}"]
    assert verdict.summary() == f"VIOLATED: node 2 viewer: {problem}"


def test_a_publisher_out_of_order_is_reported() -> None:
    """The reference itself must be strictly increasing (seqs, or the publisher's counter)."""
    verdict = durable_order.check([1, 3, 2], {})
    assert verdict.problems == ["publisher: pin keys not strictly increasing"]


def test_no_sampled_viewer_says_so() -> None:
    """Nothing sampled is not reported as a pass."""
    assert durable_order.check(PUBLISHED, {}).summary() == "not checked (no sampled viewer)"
