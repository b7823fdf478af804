"""The SDK's TypeScript declarations name exactly the catalog of docs/protocol.md: every
server frame type (section 7), client message (section 8), error code (section 9, and the
catalog in common/errors.py) and close code (section 10), so the two cannot drift apart."""

import re
from pathlib import Path

from common.errors import Code

ROOT = Path(__file__).resolve().parents[2]
TYPES = (ROOT / "sdk/live-client/types/index.d.ts").read_text("utf-8")
PROTOCOL = (ROOT / "docs/protocol.md").read_text("utf-8")
SDK = (ROOT / "live/static/live-client.js").read_text("utf-8")


def _section(number: int) -> str:
    return PROTOCOL.split(f"\n## {number}. ", 1)[1].split("\n## ", 1)[0]


def _first_column(section: str) -> set[str]:
    """The backticked names in the first column of the section's first table."""
    return set(re.findall(r"^\| `([a-z_0-9]+)`", section, re.MULTILINE))


def _union(name: str) -> str:
    return TYPES.split(f"export type {name} =", 1)[1].split(";\n", 1)[0]


def test_error_codes_are_the_catalog() -> None:
    """ErrorCode is section 9's table, which is common/errors.py's Code, plus network."""
    declared = set(re.findall(r'"([a-z_]+)"', _union("ErrorCode")))
    documented = _first_column(_section(9))
    assert documented == {code.value for code in Code}
    assert declared == documented | {"network"}


def test_every_server_frame_type_has_a_declaration() -> None:
    """The frame interfaces' ``type`` literals are the types of section 7's table."""
    frames = set(re.findall(r'\btype: "([a-z_]+)"', TYPES.split("export type ClientMessage", 1)[0]))
    assert frames == _first_column(_section(7))


def test_every_client_message_has_a_declaration() -> None:
    """ClientMessage's types are section 8's table (``mute`` / ``unmute`` share a row)."""
    declared = set(re.findall(r'type: "([a-z_]+)"', _union("ClientMessage")))
    rows = re.findall(r"^\| `([a-z_]+)`(?: / `([a-z_]+)`)?", _section(8), re.MULTILINE)
    assert declared == {name for row in rows for name in row if name}


def test_close_codes_are_section_10() -> None:
    """CloseCode lists the codes of section 10's table and the 1006 it mentions."""
    declared = {int(code) for code in re.findall(r"\d{4}", _union("CloseCode"))}
    documented = {int(code) for code in re.findall(r"^\| `(\d{4})`", _section(10), re.MULTILINE)}
    assert declared == documented | {1006}


def test_the_sdk_words_cover_the_declared_codes() -> None:
    """MESSAGES in live-client.js has words for every declared code, and no others."""
    table = SDK.split("const MESSAGES = {", 1)[1].split("};", 1)[0]
    worded = set(re.findall(r"^\s+([a-z_]+):", table, re.MULTILINE))
    assert worded == set(re.findall(r'"([a-z_]+)"', _union("ErrorCode")))
