"""The languages of the pages: which ones exist, how a page request chooses one, and the
catalogs of their sentences.

Contract: a catalog lives in ``live/static/i18n/<lang>/<area>.json``, each file a flat JSON
object of ``"area.key": "text with {placeholders}"``; a language's catalog is the union of its
files. Every language has exactly the same keys (a test checks it). The choice, in order: the
page's ``?lang=``, the brand's setting, the browser's ``Accept-Language``, then `DEFAULT`.
"""

from functools import cache
from importlib import resources

from common import codec

DEFAULT = "en"
#: The tags the pages speak, as ``<html lang>`` and ``/i18n/<lang>.json`` spell them.
SUPPORTED = ("en", "zh-CN")
#: A browser's ``zh``, ``zh-Hans``, ``zh-SG``... reads Simplified Chinese; ``zh-TW`` and
#: ``zh-HK`` (Traditional) do not, so they fall through to the next preference.
_ALIASES = {"zh": "zh-CN", "zh-hans": "zh-CN", "zh-cn": "zh-CN", "zh-sg": "zh-CN"}


def supported(tag: str | None) -> str | None:
    """The supported language ``tag`` names (case-insensitive, ``zh-Hans-CN`` too), or None."""
    if not tag:
        return None
    lowered = tag.strip().lower().replace("_", "-")
    for lang in SUPPORTED:
        if lowered == lang.lower():
            return lang
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if lowered.startswith("zh-hans"):
        return "zh-CN"
    primary = lowered.split("-")[0]
    return "en" if primary == "en" else None


def from_accept_language(header: str | None) -> str | None:
    """The supported language the browser prefers most (``q`` weights honoured), or None."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        lang = supported(tag)
        if lang is not None and weight > 0:
            weighted.append((-weight, position, lang))
    return min(weighted)[2] if weighted else None


def choose(*, asked: str | None, brand: str | None, accept_language: str | None) -> str:
    """The page's language: ``?lang=``, then the brand's setting, then the browser's, then en."""
    return supported(asked) or supported(brand) or from_accept_language(accept_language) or DEFAULT


def sentence(lang: str, key: str) -> str:
    """One sentence of the language's catalog, for a page the server writes itself."""
    text: str = _sentences(lang)[key]
    return text


@cache
def _sentences(lang: str) -> dict[str, str]:
    decoded: dict[str, str] = codec.decode(catalog(lang))
    return decoded


@cache
def catalog(lang: str) -> bytes:
    """The language's catalog, its files merged, encoded once (the files ship with the app)."""
    if lang not in SUPPORTED:
        raise KeyError(lang)
    merged: dict[str, str] = {}
    folder = resources.files("live").joinpath("static", "i18n", lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            merged.update(codec.decode(entry.read_bytes()))
    return codec.encode(merged)
