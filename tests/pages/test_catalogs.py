"""The pages' catalogs: English and Simplified Chinese have exactly the same keys (file by file,
both directions) and the same ``{placeholders}``; every key the pages use exists; and no
user-facing sentence is left in the pages' HTML or script outside the catalog."""

import re
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from live.platform import languages

STATIC = Path(__file__).resolve().parents[2] / "live/static"
CATALOGS = STATIC / "i18n"
PAGES_HTML = sorted(STATIC.glob("*.html"))
#: The pages' scripts; the SDK (English by default, by contract) and i18n.js are not pages.
PAGES_JS = sorted(p for p in STATIC.glob("*.js") if p.name not in ("live-client.js", "i18n.js"))
#: Attribute values that are not words of any language: the example brand id of the sign-in.
NOT_WORDS = {"demo"}
LETTER = re.compile(r"[^\W\d_]")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _files(lang: str) -> dict[str, dict[str, str]]:
    return {
        path.name: orjson.loads(path.read_bytes())
        for path in sorted((CATALOGS / lang).glob("*.json"))
    }


def _merged(lang: str) -> dict[str, str]:
    merged: dict[str, str] = orjson.loads(languages.catalog(lang))
    return merged


def test_every_language_has_the_same_files_and_keys() -> None:
    """A key in one language's file and not in the other's fails, whichever side lacks it."""
    english = _files("en")
    for lang in languages.SUPPORTED:
        other = _files(lang)
        assert set(other) == set(english), lang
        for name, entries in english.items():
            missing = sorted(set(entries) - set(other[name]))
            extra = sorted(set(other[name]) - set(entries))
            assert not missing, f"{lang}/{name} lacks {missing}"
            assert not extra, f"{lang}/{name} has keys English lacks: {extra}"


def test_keys_are_prefixed_by_their_area_and_texts_are_filled() -> None:
    """``viewer.json`` holds ``viewer.`` keys only; no text is empty or left untranslated
    placeholders-wise (the same ``{names}`` in every language)."""
    english = _merged("en")
    for lang in languages.SUPPORTED:
        for name, entries in _files(lang).items():
            area = name.removesuffix(".json")
            for key, text in entries.items():
                assert key.startswith(area + "."), f"{lang}/{name}: {key}"
                assert isinstance(text, str), f"{lang}/{name}: {key}"
                assert text.strip(), f"{lang}/{name}: {key} is empty"
                wanted = set(PLACEHOLDER.findall(english[key]))
                assert set(PLACEHOLDER.findall(text)) == wanted, f"{lang}: {key}"


def test_the_error_sentences_cover_the_sdk_codes() -> None:
    """``errors.<code>`` exists for every code the SDK has English words for."""
    sdk = (STATIC / "live-client.js").read_text("utf-8")
    table = sdk.split("const MESSAGES = {", 1)[1].split("};", 1)[0]
    codes = set(re.findall(r"^\s+([a-z_]+):", table, re.MULTILINE))
    for lang in languages.SUPPORTED:
        worded = {k.removeprefix("errors.") for k in _merged(lang) if k.startswith("errors.")}
        assert worded == codes, lang


def _used_keys() -> set[str]:
    used: set[str] = set()
    for path in PAGES_HTML:
        used |= set(re.findall(r'data-i18n(?:-[\w-]+)?="([^"]+)"', path.read_text("utf-8")))
    for path in PAGES_JS:
        # Whole keys only: t("host.status_" + status) is checked by its callers' lists.
        used |= set(re.findall(r'\bt\("([\w.]+)"\s*[,)]', path.read_text("utf-8")))
    return used


def test_every_key_the_pages_use_is_in_the_catalog() -> None:
    """A ``data-i18n`` or ``t("...")`` naming no key would show the key on the page."""
    used = _used_keys()
    assert len(used) > 100
    catalog = _merged("en")
    assert sorted(used - set(catalog)) == []


def test_key_families_used_by_prefix_are_complete() -> None:
    """Keys built from a prefix (``host.status_`` + a status) exist for every value of the
    list the script checks the value against first (``STATUSES``, ``ROLES``)."""
    catalog = _merged("en")
    for path in PAGES_JS:
        source = path.read_text("utf-8")
        lists = [
            re.findall(r'"(\w+)"', values)
            for values in re.findall(r"const (?:STATUSES|ROLES) = \[([^\]]*)\]", source)
        ]
        for prefix in re.findall(r'\bt\("([\w.]+_)"\s*\+', source):
            assert any(all(prefix + v in catalog for v in values) for values in lists), (
                f"{path.name} builds {prefix}... keys without a complete STATUSES/ROLES list"
            )


class _Texts(HTMLParser):
    """Text nodes and attribute values of an HTML template that no data-i18n covers."""

    SKIPPED = frozenset({"script", "style", "code"})
    VOID = frozenset({"meta", "link", "input", "img", "br", "hr", "source"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.loose: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("placeholder", "title", "aria-label"):
            value = named.get(attribute)
            worded = bool(value and LETTER.search(value)) and value not in NOT_WORDS
            if worded and f"data-i18n-{attribute}" not in named:
                self.loose.append(f'<{tag} {attribute}="{value}">')
        if tag not in self.VOID:
            self.stack.append((tag, named))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not LETTER.search(data) or not self.stack:
            return
        tag, attrs = self.stack[-1]
        if tag in self.SKIPPED or any(t in self.SKIPPED for t, _ in self.stack):
            return
        if "data-i18n" not in attrs:
            self.loose.append(f"<{tag}>{data.strip()}")


@pytest.mark.parametrize("path", PAGES_HTML, ids=lambda p: p.name)
def test_no_sentence_is_left_in_the_html(path: Path) -> None:
    """Every text node with a letter sits in an element carrying data-i18n, and every
    placeholder, title and aria-label has its data-i18n-* twin."""
    texts = _Texts()
    texts.feed(path.read_text("utf-8"))
    assert texts.loose == []


def _without_keys(source: str) -> str:
    """The script without what is not shown: comments, the keys of t("...") calls, and the
    values it compares against (``status === "live"``)."""
    source = re.sub(r'\bt\("[\w.]+"', "t(KEY", source)
    source = re.sub(r'[!=]==?\s*"[^"]*"', "== VALUE", source)
    source = re.sub(r"^\s*//.*$", "", source, flags=re.MULTILINE)
    return re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)


#: Where a page's script puts words on the screen: an assignment to textContent, innerText or
#: placeholder; the ``text:`` of an element it builds; a toast, confirm or banner.
SINKS = (
    re.compile(r"\.(?:textContent|innerText|placeholder)\s*=([^;]+);"),
    re.compile(r"\btext:\s*([^,}]+)"),
    re.compile(r"(?<!function )\b(?:toast|confirm|banner|alert)\(([^;]+);"),
)
LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


@pytest.mark.parametrize("path", PAGES_JS, ids=lambda p: p.name)
def test_no_sentence_is_left_in_the_scripts(path: Path) -> None:
    """No string literal with a letter reaches the screen except through t(...): keys chosen
    by a condition (``t(pinned ? "host.pinned" : "host.pin")``) and site paths are no words."""
    source = _without_keys(path.read_text("utf-8"))
    keys = set(_merged("en"))
    loose = [
        literal
        for sink in SINKS
        for expression in sink.findall(source)
        for literal in LITERAL.findall(expression)
        if LETTER.search(literal)
        and literal not in keys
        and literal not in ("error", "ok", "info")
        and not literal.startswith("/")
    ]
    assert loose == []


def test_the_scan_finds_a_sentence_left_behind() -> None:
    """The scans are not blind: a literal sentence in either place is reported."""
    texts = _Texts()
    texts.feed(
        '<main><p data-i18n="x.y">Fine</p><b>Left behind</b><input placeholder="Name"></main>'
    )
    assert texts.loose == ["<b>Left behind", '<input placeholder="Name">']
    source = _without_keys('el.textContent = t("viewer.x") + " left";\ntoast("Saved", "ok");')
    found = [lit for sink in SINKS for e in sink.findall(source) for lit in LITERAL.findall(e)]
    assert " left" in found
    assert "Saved" in found
