"""The ``live`` command as a user runs it: its path, its environment, a run to completion."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.units import UNIT_S

LIVE = Path(sys.executable).with_name("live")


def live_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The inherited environment without any LIVE_* variable, plus ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVE_")}
    return {**env, "LIVE_DATA_DIR": str(data_dir), **settings}


def run_live(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``live *args`` run to completion in ``env``, its output captured as text."""
    return subprocess.run(  # noqa: S603 - our own console script
        [str(LIVE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30 * UNIT_S,
        check=False,
    )
