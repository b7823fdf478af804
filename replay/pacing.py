"""The playback clock of a replay, sans I/O: session time (``t_ms``) against wall time.

Contract: while playing, the position advances ``speed`` session milliseconds per wall
millisecond from the last anchor; pausing freezes it, resuming continues from where it froze,
a speed change or a seek re-anchors at the current wall time so the position never jumps
(except to the seek target). Wall times are seconds from any monotonic clock the caller
passes in; nothing here reads a clock or sleeps.
"""

from dataclasses import dataclass


@dataclass(slots=True)
class Pacer:
    """Where a replay is in session time, given wall time."""

    anchor_t_ms: float
    anchor_wall_s: float
    speed: float = 1.0
    paused: bool = False

    def position(self, now_s: float) -> float:
        """The session time (``t_ms``) the playback is at when the wall clock reads ``now_s``."""
        if self.paused:
            return self.anchor_t_ms
        return self.anchor_t_ms + (now_s - self.anchor_wall_s) * 1000.0 * self.speed

    def due_s(self, t_ms: float) -> float | None:
        """The wall time at which the event at ``t_ms`` is due; None while paused."""
        if self.paused:
            return None
        return self.anchor_wall_s + (t_ms - self.anchor_t_ms) / (1000.0 * self.speed)

    def seek(self, t_ms: float, now_s: float) -> None:
        """Continue from ``t_ms`` (paused or not, as before)."""
        self.anchor_t_ms, self.anchor_wall_s = t_ms, now_s

    def set_speed(self, speed: float, now_s: float) -> None:
        """Play at ``speed`` from the current position on."""
        self.seek(self.position(now_s), now_s)
        self.speed = speed

    def pause(self, now_s: float) -> None:
        """Freeze the position."""
        if not self.paused:
            self.seek(self.position(now_s), now_s)
            self.paused = True

    def resume(self, now_s: float) -> None:
        """Play on from the frozen position."""
        if self.paused:
            self.anchor_wall_s = now_s
            self.paused = False

    def resync(self, t_ms: float, now_s: float, *, tolerance_s: float) -> None:
        """An event at ``t_ms`` goes out more than ``tolerance_s`` after its due time (a slow
        store or client): go on from it at the normal pace rather than rushing what follows."""
        due = self.due_s(t_ms)
        if due is not None and now_s - due > tolerance_s:
            self.seek(t_ms, now_s)
