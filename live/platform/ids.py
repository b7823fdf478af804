"""Identifiers: short random strings with a prefix that says what they name."""

import secrets


def new_id(prefix: str) -> str:
    """A fresh id such as ``ses_3f9a1c0d2b4e6f70`` (prefix + 16 hex digits)."""
    return f"{prefix}_{secrets.token_hex(8)}"
