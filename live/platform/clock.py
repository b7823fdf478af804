"""Wall-clock time in the unit the contract uses: Unix milliseconds."""

import time


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return int(time.time() * 1000)
