"""A brand's webhook receiver for the tests: a real HTTP server on a loopback port, whose
answers the test changes as it goes (200, 500, slow, down), and an independent check of the
Standard Webhooks signature written from the specification, not from the library."""

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

#: How far a signature's timestamp may be from now (the specification suggests 5 minutes).
TOLERANCE_S = 300


class BadSignature(Exception):
    """The delivery's headers do not sign its body under the secret."""


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    """Check a delivery as the Standard Webhooks specification says a receiver must: the
    secret is base64 after ``whsec_``; the signed content is ``id.timestamp.body``; the
    signature header lists space-separated ``v1,<base64 HMAC-SHA256>`` entries, one of which
    must match in constant time; the timestamp must be recent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise BadSignature("missing headers")
    if abs(time.time() - int(stamp)) > TOLERANCE_S:
        raise BadSignature("timestamp out of tolerance")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return
    raise BadSignature("no signature matches")


@dataclass
class Delivery:
    """One request the receiver got, and whether its signature held."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header."""
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded body."""
        value: dict[str, Any] = orjson.loads(self.body)
        return value


@dataclass
class Receiver:
    """The server: ``status`` is what it answers, ``delay_s`` how long it waits first."""

    port: int = 0
    status: int = 200
    delay_s: float = 0.0
    #: The endpoint secrets, by path (``/hooks/<name>``), to verify what arrives.
    secrets: dict[str, str] = field(default_factory=dict)
    got: list[Delivery] = field(default_factory=list)
    #: Per endpoint path: seconds to wait before answering (beside ``delay_s``).
    slow: dict[str, float] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)
    #: Per endpoint path: when each request arrived (monotonic seconds), answered or not.
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url(self, name: str) -> str:
        """The endpoint URL of ``name`` on this receiver."""
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.arrivals.setdefault(path, []).append(time.monotonic())
        self.in_flight[path] = self.in_flight.get(path, 0) + 1
        self.most_in_flight[path] = max(self.most_in_flight.get(path, 0), self.in_flight[path])
        try:
            body = await request.read()
            headers = dict(request.headers)
            try:
                verify(self.secrets[request.path], headers, body)
                verified = True
            except (BadSignature, KeyError):
                verified = False
            delay = self.slow.get(path.removeprefix("/hooks/"), self.delay_s)
            if delay:
                await asyncio.sleep(delay)
            async with self._arrived:
                self.got.append(Delivery(request.path, headers, body, time.monotonic(), verified))
                self._arrived.notify_all()
            return web.Response(status=self.status, text="ok")
        finally:
            self.in_flight[path] -= 1

    async def start(self) -> None:
        """Listen (on the same port as before after a `stop`)."""
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            server = site._server
            assert isinstance(server, asyncio.Server)
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def of(self, name: str) -> list[Delivery]:
        """What arrived at endpoint ``name`` (answered or not)."""
        return [d for d in self.got if d.path == f"/hooks/{name}"]

    async def wait_for(self, name: str, count: int, *, timeout_s: float) -> list[Delivery]:
        """The first ``count`` deliveries at ``name``, once they arrived."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.of(name)) >= count)
        return self.of(name)

    async def wait_until(self, check: Any, *, timeout_s: float) -> None:
        """Until ``check()`` holds, looked at on every arrival."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(check)
