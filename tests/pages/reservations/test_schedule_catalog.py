"""The reservation pages' strings: ``schedule.json`` has the same keys in English and
Simplified Chinese, every key is of the ``schedule.`` area, and every key the pages name (in
``data-i18n`` attributes and ``t("...")`` calls) is in the catalog, and every catalog key is
used (no dead strings)."""

import re
from pathlib import Path

import orjson

STATIC = Path(__file__).resolve().parents[3] / "live" / "static"
PAGES = [
    "schedule.html",
    "schedule.js",
    "host.html",
    "host-schedule.js",
    "guide.html",
    "guide-reservations.js",
]
USED = re.compile(r"""["'](schedule\.[a-z_]+)["']""")


def _catalog(lang: str) -> dict[str, str]:
    catalog: dict[str, str] = orjson.loads((STATIC / "i18n" / lang / "schedule.json").read_bytes())
    return catalog


def test_both_languages_have_the_same_keys_of_the_schedule_area() -> None:
    """A key missing in either language fails; so does a key of another area."""
    english, chinese = _catalog("en"), _catalog("zh-CN")
    assert set(english) == set(chinese)
    assert all(key.startswith("schedule.") for key in english)
    assert all(text.strip() for text in [*english.values(), *chinese.values()])


def test_placeholders_match_between_languages() -> None:
    """A ``{name}`` in one language is in the other (a translation cannot drop the count)."""
    english, chinese = _catalog("en"), _catalog("zh-CN")
    for key, text in english.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", chinese[key])), (
            key
        )


def test_every_key_the_pages_use_is_in_the_catalog_and_every_key_is_used() -> None:
    """The keys named by the pages and the catalog's keys are the same set."""
    used = {key for page in PAGES for key in USED.findall((STATIC / page).read_text("utf-8"))}
    assert used == set(_catalog("en"))
