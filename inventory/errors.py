"""Errors raised by inventory; Redis exceptions never leave this package untranslated."""

from common.errors import EngineUnavailable


class InventoryError(Exception):
    """Base of inventory errors."""


class InventoryUnavailable(InventoryError, EngineUnavailable):
    """Redis could not be reached or refused the command; nothing was changed for sure."""
