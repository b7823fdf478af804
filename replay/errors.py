"""The archive's exception tree.

Every store raises only these; botocore, aiobotocore and `OSError` failures are translated at
the store boundary (``raise ... from exc``) so callers never see an engine's exceptions.

- `ArchiveError`: base of everything below.
  - `ArchiveUnavailable`: the store cannot serve the request now; retrying later may succeed.
  - `ArchiveConflict`: a write-once object already exists with different bytes.
  - `ArchiveNotFound`: the object does not exist.
  - `ArchiveCorrupt`: stored bytes do not match their checksum or cannot be decoded.

`ArchiveUnavailable` is also a `common.errors.EngineUnavailable`: an outage like any other.
"""

from common.errors import EngineUnavailable


class ArchiveError(Exception):
    """Base of every archive failure."""


class ArchiveUnavailable(ArchiveError, EngineUnavailable):
    """The store could not serve the request now (unreachable, throttled, misconfigured).

    A write that fails this way may still have landed; retrying it is safe (write-once).
    """


class ArchiveConflict(ArchiveError):
    """`name` already exists in the store with bytes other than the ones being written."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} already exists with different content")
        self.name = name


class ArchiveNotFound(ArchiveError):
    """`name` does not exist in the store."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} not found")
        self.name = name


class ArchiveCorrupt(ArchiveError):
    """Object `name` fails its checksum or cannot be decoded; `reason` says how."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} is corrupt: {reason}")
        self.name = name
        self.reason = reason
