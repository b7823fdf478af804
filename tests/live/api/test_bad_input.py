"""Hostile and broken input gets a documented code, and everyone else keeps being served."""

import time

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.clients import Room
from tests.support.servers import SECRET, LiveServer
from tests.support.sessions import OpenSession


async def _closed_with(room: Room) -> tuple[int | None, list[dict[str, object]]]:
    frames: list[dict[str, object]] = []
    try:
        while True:
            frames.append(await room.next_frame())
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), frames


async def test_bad_frames_get_error_frames_and_the_room_goes_on(
    server: LiveServer, opened: OpenSession
) -> None:
    """Invalid JSON, unknown types and bad fields answer error frames; the socket stays open."""
    bystander = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "b")))
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "x")))
    await bystander.wait_type("snapshot")
    await room.wait_type("snapshot")
    await room.socket.send("{not json")
    assert (await room.wait_type("error"))["code"] == "invalid_json"
    await room.send({"type": "teleport", "ref": "r9"})
    error = await room.wait_type("error")
    assert (error["code"], error["ref"]) == ("unknown_type", "r9")
    await room.send({"type": "comment", "text": "x" * 301})
    assert (await room.wait_type("error"))["code"] == "comment_too_long"
    await room.socket.send(b"\xff\xfe binary garbage")
    assert (await room.wait_type("error"))["code"] == "invalid_json"
    await room.send({"type": "claim", "coupon_id": "cpn_missing", "ref": "c"})
    assert (await room.wait_type("error"))["code"] == "not_found"
    await room.send({"type": "ping", "ref": "p"})
    assert (await room.wait_type("pong"))["ref"] == "p"
    await bystander.send({"type": "comment", "text": "still here", "ref": "s"})
    assert (await bystander.wait_type("ack"))["ref"] == "s"
    await room.close()
    await bystander.close()


async def test_frame_over_64_kib_closes_with_1009(server: LiveServer, opened: OpenSession) -> None:
    """A frame above 64 KiB closes that socket with 1009; other viewers are unaffected."""
    bystander = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "b")))
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "big")))
    await bystander.wait_type("snapshot")
    await room.wait_type("snapshot")
    await room.send({"type": "comment", "text": "x" * 70_000})
    code, _ = await _closed_with(room)
    assert code == 1009
    await bystander.send({"type": "ping", "ref": "alive"})
    assert (await bystander.wait_type("pong"))["ref"] == "alive"
    await bystander.close()


def _forged() -> str:
    claims = {"sub": "v", "role": "viewer", "brand": "b", "exp": int(time.time()) + 60}
    return jwt.encode(claims, "another-secret-another-secret-another", algorithm="HS256")


def _expired() -> str:
    claims = {"sub": "v", "role": "viewer", "brand": "b", "exp": int(time.time()) - 60}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", "token_invalid"),
        ("garbage", "token_invalid"),
        ("forged", "token_invalid"),
        ("expired", "token_expired"),
    ],
)
async def test_bad_tokens_on_the_socket_close_with_4001(
    server: LiveServer, opened: OpenSession, token: str, code: str
) -> None:
    """Missing, malformed, forged or expired tokens get an error frame and close code 4001."""
    token = {"forged": _forged(), "expired": _expired()}.get(token, token)
    room = await Room.join(server.ws_url(opened.session_id, token))
    close_code, frames = await _closed_with(room)
    assert close_code == 4001
    assert frames[0]["code"] == code


async def test_another_brands_token_sees_no_session(
    server: LiveServer, opened: OpenSession
) -> None:
    """A token of another brand gets not_found on HTTP and close 4004 on the socket."""
    stranger = server.token("viewer", "v", brand="other-brand")
    room = await Room.join(server.ws_url(opened.session_id, stranger))
    close_code, frames = await _closed_with(room)
    assert close_code == 4004
    assert frames[0]["code"] == "not_found"
    async with server.client(server.token("host", "h", brand="other-brand")) as other_host:
        read = await other_host.get(f"/api/sessions/{opened.session_id}")
        assert read.status_code == 404
        assert read.json()["error"]["code"] == "not_found"
        pin = await other_host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        assert pin.status_code == 404


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer nope"}, 401, "token_invalid"),
        ({"Authorization": "Basic abc"}, 401, "unauthorized"),
    ],
)
async def test_http_auth_failures(
    server: LiveServer, headers: dict[str, str], status: int, code: str
) -> None:
    """HTTP calls without a valid bearer token get 401 with a catalog code."""
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        answer = await client.post("/api/sessions", json={"title": "t"})
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


async def test_roles_are_enforced_per_endpoint(server: LiveServer, opened: OpenSession) -> None:
    """A viewer cannot create sessions; a host cannot place orders."""
    async with server.client(server.token("viewer", "v")) as viewer:
        answer = await viewer.post("/api/sessions", json={"title": "t"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden")
    async with server.client(opened.host_token) as host:
        answer = await host.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "k"},
        )
        assert answer.status_code == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{oops", "invalid_json"),
        (b"[]", "invalid_request"),
        (b'{"product_id": "p", "qty": 0}', "invalid_request"),
        (b'{"product_id": "p", "qty": "1"}', "invalid_request"),
        (b'{"qty": 1}', "invalid_request"),
    ],
)
async def test_bad_order_bodies(
    server: LiveServer, opened: OpenSession, body: bytes, code: str
) -> None:
    """Malformed order bodies are refused with a catalog code, never a 500."""
    async with server.client(server.token("viewer", "v")) as viewer:
        answer = await viewer.post(
            f"/api/sessions/{opened.session_id}/orders",
            content=body,
            headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
        )
    assert answer.json()["error"]["code"] == code
    assert answer.status_code in (400, 422)


async def test_missing_idempotency_key_and_unknown_routes(
    server: LiveServer, opened: OpenSession
) -> None:
    """An order without Idempotency-Key is refused; unknown routes answer not_found."""
    async with server.client(server.token("viewer", "v")) as viewer:
        answer = await viewer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
        )
        assert answer.json()["error"]["code"] == "idempotency_key_required"
        missing = await viewer.get("/api/nothing-here")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        wrong = await viewer.put("/api/sessions")
        assert wrong.json()["error"]["code"] == "method_not_allowed"
