"""`S3ArchiveStore`: the archive store on S3 or an S3-compatible server, through aioboto3.

Write-once is a conditional put (``If-None-Match: *``): S3 refuses to replace an existing key
atomically, so of two concurrent writers exactly one succeeds. moto 5.2.5 (the test server)
implements the same condition on `put_object`, so no head-then-put fallback is needed.
Credentials and region come from the standard AWS environment variables.
"""

import asyncio
import contextlib
from typing import Any

import aioboto3
import aiohttp
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from replay.errors import ArchiveConflict, ArchiveError, ArchiveNotFound, ArchiveUnavailable

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_CONFLICT_RETRIES = 5
_CONFLICT_DELAY_S = 0.05

# Failures of the transport and of the service, all translated into `ArchiveUnavailable`
# unless a more specific meaning applies (missing key, precondition).
_TRANSIENT: tuple[type[BaseException], ...] = (
    BotoCoreError,
    ClientError,
    aiohttp.ClientError,
    OSError,
    TimeoutError,
)


def _error_code(exc: ClientError) -> str:
    code: Any = exc.response.get("Error", {}).get("Code", "")
    return str(code)


class S3ArchiveStore:
    """Archive store under ``s3://bucket/prefix``; one client, opened lazily, closed by `aclose`.

    `max_attempts` (the first try included), `connect_timeout_s` and `read_timeout_s` bound how
    long one call can take before it raises `ArchiveUnavailable`; botocore's "standard" retry
    mode retries throttling, 5xx answers and connection errors with jittered backoff.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        max_attempts: int = 3,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 15.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self._config = Config(
            # botocore's "max_attempts" counts retries only; "total_max_attempts" counts them all.
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            # S3-compatible servers (moto, MinIO, ...) are addressed by path, not by virtual host.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        self._session = aioboto3.Session()
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._opening = asyncio.Lock()
        self._closed = False

    async def put_once(self, name: str, data: bytes) -> bool:
        """Write `name` once (see `ArchiveStore.put_once`) with a conditional put."""
        key = self._key(name)
        for attempt in range(_CONFLICT_RETRIES):
            try:
                client = await self._open()
                await client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
            except ClientError as exc:
                code = _error_code(exc)
                if code == "PreconditionFailed":
                    break
                if code == "ConditionalRequestConflict":
                    # S3 answers 409 while another conditional write of the key is in flight;
                    # its documented remedy is to retry, which then meets the finished write.
                    await asyncio.sleep(_CONFLICT_DELAY_S * 2**attempt)
                    continue
                raise ArchiveUnavailable(f"cannot write {name}: {exc}") from exc
            except _TRANSIENT as exc:
                raise ArchiveUnavailable(f"cannot write {name}: {exc}") from exc
            else:
                return True
        else:
            raise ArchiveUnavailable(f"cannot write {name}: concurrent writes keep conflicting")
        if await self.get(name) != data:
            raise ArchiveConflict(name)
        return False

    async def get(self, name: str) -> bytes:
        """Return the bytes of `name`; `ArchiveNotFound` when absent."""
        try:
            client = await self._open()
            answer = await client.get_object(Bucket=self.bucket, Key=self._key(name))
            async with answer["Body"] as body:
                data: bytes = await body.read()
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                raise ArchiveNotFound(name) from exc
            raise ArchiveUnavailable(f"cannot read {name}: {exc}") from exc
        except _TRANSIENT as exc:
            raise ArchiveUnavailable(f"cannot read {name}: {exc}") from exc
        return data

    async def exists(self, name: str) -> bool:
        """True when `name` exists."""
        try:
            client = await self._open()
            await client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                return False
            raise ArchiveUnavailable(f"cannot stat {name}: {exc}") from exc
        except _TRANSIENT as exc:
            raise ArchiveUnavailable(f"cannot stat {name}: {exc}") from exc
        return True

    async def aclose(self) -> None:
        """Close the client; later calls raise `ArchiveError`."""
        self._closed = True
        self._client = None
        await self._stack.aclose()

    async def list(self, prefix: str) -> list[str]:
        """Names starting with `prefix`, sorted (S3 lists keys in UTF-8 binary order)."""
        base = f"{self.prefix}/" if self.prefix else ""
        names: list[str] = []
        try:
            client = await self._open()
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix
            )
            async for page in pages:
                names.extend(item["Key"][len(base) :] for item in page.get("Contents", []))
        except _TRANSIENT as exc:
            raise ArchiveUnavailable(f"cannot list {prefix!r}: {exc}") from exc
        return sorted(names)

    async def delete(self, name: str) -> None:
        """Remove `name`; absent is fine (S3 deletes are idempotent)."""
        try:
            client = await self._open()
            await client.delete_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            raise ArchiveUnavailable(f"cannot delete {name}: {exc}") from exc
        except _TRANSIENT as exc:
            raise ArchiveUnavailable(f"cannot delete {name}: {exc}") from exc

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    async def _open(self) -> Any:
        if self._client is not None:
            return self._client
        async with self._opening:
            if self._closed:
                raise ArchiveError("the store is closed")
            if self._client is None:
                client = self._session.client(
                    "s3", endpoint_url=self.endpoint_url, config=self._config
                )
                self._client = await self._stack.enter_async_context(client)
        return self._client
