"""The guides-at-work page strings: both languages have the same keys, and every key the pages
name is in the catalog."""

import re
from pathlib import Path

import orjson

STATIC = Path(__file__).resolve().parents[3] / "live" / "static"
PAGES = (
    "guide-desk.js",
    "host-guides.js",
    "watch.js",
    "guide.html",
    "host.html",
    "watch.html",
)
USED = re.compile(r"""(?:\bt\(|data-i18n(?:-placeholder)?=)["'](workspace\.[a-z_.0-9]+)["']""")


def _catalog(lang: str) -> dict[str, str]:
    loaded: dict[str, str] = orjson.loads((STATIC / "i18n" / lang / "workspace.json").read_bytes())
    return loaded


def test_both_languages_have_the_same_keys() -> None:
    """A key missing in either catalog fails, naming it."""
    english, chinese = _catalog("en"), _catalog("zh-CN")
    assert set(english) ^ set(chinese) == set()
    assert all(key.startswith("workspace.") for key in english)


def test_every_key_the_pages_use_is_in_the_catalog() -> None:
    """The pages' ``t("workspace...")`` calls and ``data-i18n`` attributes name catalog keys."""
    english = _catalog("en")
    used = {key for page in PAGES for key in USED.findall((STATIC / page).read_text("utf-8"))}
    assert len(used) > 20
    assert used - set(english) == set()


def test_placeholders_match_between_languages() -> None:
    """Each string has the same ``{placeholders}`` in both languages."""
    english, chinese = _catalog("en"), _catalog("zh-CN")
    for key, text in english.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", chinese[key])), (
            key
        )
