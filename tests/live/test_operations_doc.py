"""docs/operations.md's environment reference names exactly the variables live/settings.py reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_environment_reference_matches_settings() -> None:
    """Every LIVE_* read by the settings is documented, and nothing documented is not read."""
    read = set(re.findall(r'"(LIVE_[A-Z0-9_]+)"', (ROOT / "live/settings.py").read_text()))
    doc = (ROOT / "docs/operations.md").read_text()
    reference = doc.split("## 2. Environment reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(LIVE_[A-Z0-9_]+)` \|", reference, re.MULTILINE))
    assert read, "no variables found in live/settings.py"
    assert documented == read
