"""Banned words in comments, sans I/O: find them, then reject the comment or mask them.

Matching is case-insensitive on substrings, longest word first, so "scam" inside "scammer" is
caught: comment floods are written to dodge filters, and a missed word costs more than a
masked harmless one.
"""

import re
from collections.abc import Iterable
from enum import StrEnum


class Mode(StrEnum):
    """What a banned word does to a comment."""

    REJECT = "reject"
    MASK = "mask"


class WordFilter:
    """A compiled banned-word list."""

    def __init__(self, words: Iterable[str], mode: Mode) -> None:
        cleaned = sorted({w.strip().casefold() for w in words if w.strip()}, key=len, reverse=True)
        self.mode = mode
        self._pattern = (
            re.compile("|".join(re.escape(w) for w in cleaned), re.IGNORECASE) if cleaned else None
        )

    def banned(self, text: str) -> bool:
        """True when ``text`` contains a banned word."""
        return self._pattern is not None and self._pattern.search(text) is not None

    def mask(self, text: str) -> str:
        """``text`` with every banned word replaced by asterisks of the same length."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: "*" * len(match.group(0)), text)
