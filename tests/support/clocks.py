"""A clock the test moves by hand, for code that takes its clock as a parameter: time passes
when the test says so, never by waiting."""


class HandClock:
    """A clock reading ``now`` seconds until moved; call it like `time.time`."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        """The current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self.now += seconds
