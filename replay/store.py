"""The archive store contract, and `open_store` that picks an implementation from a URL.

Object names are relative ``/``-separated paths such as
``sessions/{session_id}/events/000000000001-000000000500.ndjson.gz``.
"""

from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from replay.local_store import LocalArchiveStore
from replay.s3_store import S3ArchiveStore


class ArchiveStore(Protocol):
    """Write-once object storage for archive segments and manifests.

    Every method raises `ArchiveUnavailable` when the store cannot answer now; no method ever
    replaces an object that exists (only `delete` removes one, when a session's archive is
    deleted on purpose). A written object is complete: readers never see a partial one.
    """

    async def put_once(self, name: str, data: bytes) -> bool:
        """Write `name` unless it exists: True if written now, False if it holds `data` already.

        Raises `ArchiveConflict` when it exists with other bytes. Of concurrent writers of one
        name, exactly one gets True.
        """
        ...

    async def get(self, name: str) -> bytes:
        """Return the bytes of `name`; raises `ArchiveNotFound` when it does not exist."""
        ...

    async def exists(self, name: str) -> bool:
        """True when `name` exists."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Names that start with `prefix`, sorted."""
        ...

    async def delete(self, name: str) -> None:
        """Remove `name` (data lifecycle: deleting a session's archive); absent is fine."""
        ...


def open_store(archive_url: str, *, s3_endpoint_url: str | None = None) -> ArchiveStore:
    """Build the store for ``file:///abs/dir`` or ``s3://bucket/prefix``; ValueError otherwise.

    `s3_endpoint_url` points S3 stores at an S3-compatible server; credentials come from the
    standard AWS environment variables.
    """
    parsed = urlparse(archive_url)
    if parsed.scheme == "file":
        if parsed.netloc not in {"", "localhost"} or not parsed.path.startswith("/"):
            raise ValueError(f"{archive_url!r}: expected file:///absolute/directory")
        return LocalArchiveStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"{archive_url!r}: expected s3://bucket/prefix")
        return S3ArchiveStore(
            parsed.netloc, unquote(parsed.path).strip("/"), endpoint_url=s3_endpoint_url
        )
    raise ValueError(f"{archive_url!r}: the archive URL must start with file:// or s3://")
