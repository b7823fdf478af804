"""docs/operations.md's environment reference names exactly the variables the settings read."""

import re
from pathlib import Path

from live.platform.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]


class RecordingEnvironment(dict[str, str]):
    """An environment that remembers every variable asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_environment_reference_matches_settings(tmp_path: Path) -> None:
    """Every LIVE_* read by `load_settings` is documented, and nothing documented is not read."""
    env = RecordingEnvironment(
        {
            "LIVE_DATA_DIR": str(tmp_path),
            "LIVE_SECRET": "s" * 32,
            "LIVE_PAYMENT_SECRET": "p" * 32,
        }
    )
    load_settings(env)
    read = {name for name in env.asked if name.startswith("LIVE_")}
    doc = (ROOT / "docs/operations.md").read_text()
    reference = doc.split("## 2. Environment reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(LIVE_[A-Z0-9_]+)` \|", reference, re.MULTILINE))
    assert len(read) > 20, read
    assert documented == read
