"""Per-brand live-room policy: banned words (mask or reject) and the Origin allowlist."""

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from live.sessions.room_rules import BrandPolicies, BrandPolicy, build
from tests.support.clients import Room
from tests.support.servers import LiveServer, statements_with
from tests.support.sessions import OpenSession


async def _set_policy(server: LiveServer, **policy: object) -> None:
    async with server.client(server.token("admin", "boss")) as admin:
        answer = await admin.put("/api/brands/me/policy", json=policy)
        assert answer.status_code == 200, answer.text


async def test_banned_words_are_masked_or_rejected(server: LiveServer, opened: OpenSession) -> None:
    """In mask mode the comment goes out masked; in reject mode it is refused."""
    await _set_policy(server, banned_words=["scam", "fake"], banned_mode="mask")
    author = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "a")))
    reader = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "r")))
    await author.wait_type("snapshot")
    await reader.wait_type("snapshot")
    await author.send({"type": "comment", "text": "this is a SCAM", "ref": "1"})
    assert (await author.wait_type("ack"))["text"] == "this is a ****"
    batch = await reader.wait_type("comments")
    assert batch["items"][0]["text"] == "this is a ****"
    await _set_policy(server, banned_words=["scam"], banned_mode="reject")
    await author.send({"type": "comment", "text": "scam again", "ref": "2"})
    refused = await author.wait_type("error")
    assert (refused["code"], refused["ref"]) == ("comment_rejected", "2")
    await author.send({"type": "comment", "text": "lovely coat", "ref": "3"})
    assert (await author.wait_type("ack"))["ref"] == "3"
    await author.close()
    await reader.close()


async def test_origin_allowlist(server: LiveServer, opened: OpenSession) -> None:
    """A browser page from an unlisted origin is refused with 4013; listed and no-origin join."""
    await _set_policy(server, allowed_origins=["https://shop.example.com"])
    url = server.ws_url(opened.session_id, server.token("viewer", "o"))
    allowed = await connect(url, origin="https://shop.example.com")  # type: ignore[arg-type]
    assert '"snapshot"' in str(await allowed.recv())
    await allowed.close()
    mini_program = await Room.join(url)
    assert (await mini_program.next_frame())["type"] == "snapshot"
    await mini_program.close()
    other = await connect(url, origin="https://evil.example.net")  # type: ignore[arg-type]
    assert '"origin_not_allowed"' in str(await other.recv())
    with pytest.raises(ConnectionClosed) as closed:
        await other.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4013


async def test_policy_is_admin_only_and_validated(server: LiveServer) -> None:
    """Only admins write the policy; bad fields get invalid_request; brands are separate."""
    async with server.client(server.token("host", "h")) as host:
        assert (await host.put("/api/brands/me/policy", json={})).status_code == 403
    async with server.client(server.token("admin", "boss")) as admin:
        bad = await admin.put("/api/brands/me/policy", json={"banned_mode": "shout"})
        assert bad.json()["error"]["code"] == "invalid_request"
        bad = await admin.put("/api/brands/me/policy", json={"allowed_origins": ["ftp://x"]})
        assert bad.json()["error"]["code"] == "invalid_request"
        ok = await admin.put("/api/brands/me/policy", json={"banned_words": ["x"]})
        assert ok.json() == {
            "banned_words": ["x"],
            "banned_mode": "mask",
            "allowed_origins": [],
            "language": None,
        }
    async with server.client(server.token("admin", "boss", brand="other")) as other:
        assert (await other.get("/api/brands/me/policy")).json()["banned_words"] == []


async def test_a_comment_flood_reads_an_expired_policy_once(server: LiveServer) -> None:
    """Concurrent checks of a brand whose cached policy is missing share one read of the record,
    and a policy stored while that read is in flight is not overwritten by what it read."""
    await _set_policy(server, banned_words=["scam"], banned_mode="mask")
    policies = BrandPolicies(server.context.db)  # a node that has not read the policy yet
    with statements_with(server, "FROM brand_policies") as reads:
        seen = await asyncio.gather(*(policies.get(server.brand) for _ in range(200)))
        assert len(reads) == 1
        assert {policy.banned_words for policy in seen} == {("scam",)}

        # On another fresh node, a put lands while its first read is still in flight.
        gated = _GatedPolicies(server.context.db)
        in_flight = asyncio.ensure_future(gated.get(server.brand))
        await gated.reading.wait()
        await gated.put(server.brand, build(["fake"], "reject", []), now_ms=1)
        gated.release.set()
        assert (await in_flight).banned_words == ("scam",)  # what the record held when asked
        assert (await gated.get(server.brand)).banned_words == ("fake",)


class _GatedPolicies(BrandPolicies):
    """Policies whose record reads wait until the test releases them."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def read(self, brand: str) -> BrandPolicy:
        read = await super().read(brand)
        self.reading.set()
        await self.release.wait()
        return read
