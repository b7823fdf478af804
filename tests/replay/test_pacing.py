"""The replay clock, sans I/O: plain synchronous arithmetic on given wall times."""

import pytest

from replay.pacing import Pacer


def test_events_are_due_at_their_t_ms_scaled_by_speed() -> None:
    """At speed 2 an event 1 000 ms into the session is due half a second of wall time later."""
    pacer = Pacer(anchor_t_ms=0, anchor_wall_s=100.0, speed=2.0)
    assert pacer.due_s(1_000) == pytest.approx(100.5)
    assert pacer.position(100.25) == pytest.approx(500)


def test_pause_freezes_and_resume_continues_from_there() -> None:
    """Paused, nothing is due and the position stays; resumed, it goes on from where it froze."""
    pacer = Pacer(anchor_t_ms=0, anchor_wall_s=0.0)
    pacer.pause(2.0)
    assert pacer.due_s(3_000) is None
    assert pacer.position(50.0) == pytest.approx(2_000)
    pacer.resume(50.0)
    assert pacer.position(51.0) == pytest.approx(3_000)
    assert pacer.due_s(3_000) == pytest.approx(51.0)


def test_a_speed_change_keeps_the_position() -> None:
    """Changing speed re-anchors at the current position: no jump, a new rate."""
    pacer = Pacer(anchor_t_ms=1_000, anchor_wall_s=10.0, speed=1.0)
    pacer.set_speed(4.0, 11.0)
    assert pacer.position(11.0) == pytest.approx(2_000)
    assert pacer.position(12.0) == pytest.approx(6_000)
    assert pacer.due_s(10_000) == pytest.approx(13.0)


def test_seek_moves_the_position_and_keeps_pause() -> None:
    """A seek while paused shows the new position and stays paused."""
    pacer = Pacer(anchor_t_ms=0, anchor_wall_s=0.0, speed=0.5)
    pacer.pause(1.0)
    pacer.seek(9_000, 5.0)
    assert pacer.paused
    assert pacer.position(99.0) == pytest.approx(9_000)


def test_a_late_event_restarts_the_clock_from_it() -> None:
    """An event sent well after its due time becomes the new anchor; a slightly late one not."""
    pacer = Pacer(anchor_t_ms=0, anchor_wall_s=0.0)
    pacer.resync(1_000, 1.5, tolerance_s=1.0)
    assert pacer.due_s(2_000) == pytest.approx(2.0)
    pacer.resync(2_000, 5.0, tolerance_s=1.0)
    assert pacer.due_s(3_000) == pytest.approx(6.0)
