"""Hypothesis-generated frames on the room socket: well-formed and malformed commands, arbitrary
text and bytes, invalid UTF-8, deeply nested and huge JSON, oversize frames. The server never
answers ``internal``; the socket stays usable, or is closed with the documented code (1007 for
invalid UTF-8 in a text frame, 1009 above 64 KiB); everyone else keeps being served."""

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from common.errors import Code
from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

EXAMPLES = 300
MAX_FRAME_BYTES = 65_536


@dataclass(frozen=True)
class Frame:
    """One frame to send and the close code it may earn (None: the socket must stay open)."""

    data: str | bytes
    text: bool
    closes_with: int | None = None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
COMMANDS = st.fixed_dictionaries(
    {"type": st.sampled_from(["comment", "like", "claim", "ping", "mute", "kick", "", "x" * 80])},
    optional={
        "text": st.one_of(st.text(max_size=400), JSON),
        "count": st.one_of(st.integers(-(2**70), 2**70), JSON),
        "coupon_id": st.one_of(st.text(max_size=80), JSON),
        "user_id": st.one_of(st.text(max_size=80), JSON),
        "ref": st.one_of(st.text(max_size=100), JSON),
    },
)


def _invalid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


FRAMES = st.one_of(
    COMMANDS.map(lambda c: Frame(json.dumps(c), text=True)),
    JSON.map(lambda v: Frame(json.dumps(v), text=True)),
    st.text(max_size=300).map(lambda t: Frame(t, text=True)),
    st.binary(max_size=300).map(lambda b: Frame(b, text=False)),
    st.binary(min_size=1, max_size=64)
    .filter(_invalid_utf8)
    .map(lambda b: Frame(b, text=True, closes_with=1007)),
    st.integers(1, 30_000).map(lambda d: Frame("[" * d + "]" * d, text=True)),
    st.integers(1, 10_000).map(lambda d: Frame('{"a":' * d + "1" + "}" * d, text=True)),
    st.integers(MAX_FRAME_BYTES + 1, 3 * MAX_FRAME_BYTES).map(
        lambda n: Frame(
            orjson.dumps({"type": "comment", "text": "x" * n}).decode(), text=True, closes_with=1009
        )
    ),
    st.integers(MAX_FRAME_BYTES + 1, 2 * MAX_FRAME_BYTES).map(
        lambda n: Frame(b"\x00" * n, text=False, closes_with=1009)
    ),
)


@dataclass
class Tally:
    """What the fuzzer saw."""

    frames: int = 0
    closes: dict[int, int] = field(default_factory=dict)
    error_codes: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _probe(socket: ClientConnection, ref: str, tally: Tally) -> None:
    """Ping and read until the pong (raises ConnectionClosed if the server closed)."""
    socket.send(orjson.dumps({"type": "ping", "ref": ref}).decode())
    while True:
        raw = socket.recv(timeout=10 * UNIT_S)
        message = orjson.loads(raw)
        for item in message if isinstance(message, list) else [message]:
            if item.get("type") == "error":
                tally.error_codes.add(str(item.get("code")))
            if item.get("type") == "pong" and item.get("ref") == ref:
                return


def _fuzz(url_for: Callable[[int], str]) -> Tally:
    tally = Tally()
    refs = itertools.count()
    users = itertools.count()
    stack = contextlib.ExitStack()

    def join() -> ClientConnection:
        # A new user each time: a closed socket may still count against its user's caps for a
        # moment (the hub unregisters it on its own task), and that is not what is tested here.
        return stack.enter_context(connect(url_for(next(users)), max_size=None, compression=None))

    state: dict[str, Any] = {"socket": join()}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(frame=FRAMES)
    def check(frame: Frame) -> None:
        socket: ClientConnection = state["socket"]
        tally.frames += 1
        try:
            socket.send(frame.data, text=frame.text)
            _probe(socket, f"probe-{next(refs)}", tally)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            tally.closes[code or 1006] = tally.closes.get(code or 1006, 0) + 1
            # An oversize frame may still be in flight when the server closes: the unread bytes
            # make the kernel reset the connection, and the client can lose the close frame.
            lost_close = code is None and frame.closes_with == 1009
            if code != frame.closes_with and not lost_close:
                tally.problems.append(f"{frame.data[:80]!r}: closed {code}, {frame.closes_with=}")
            state["socket"] = join()
        else:
            if frame.closes_with is not None:
                tally.problems.append(f"{frame.data[:80]!r}: stayed open, expected a close")

    with stack:
        check()
    return tally


# The server shares this process: its keepalive pings draw their payload from the global
# `random` (uvicorn's websockets-sansio, websockets), and a ping sent while hypothesis draws a
# frame in the fuzz thread looks to hypothesis like a strategy using `random`.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_generated_frames_never_break_the_server(server: LiveServer) -> None:
    """300 generated frames: documented answers or closes only, bystanders served throughout."""
    opened = await open_session(server)
    bystander = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "calm")))
    await bystander.wait_type("snapshot")

    def url_for(n: int) -> str:
        return server.ws_url(opened.session_id, server.token("viewer", f"fuzzer-{n}"))

    tally = await asyncio.to_thread(_fuzz, url_for)
    assert not tally.problems, "\n".join(tally.problems[:10])
    assert tally.frames >= EXAMPLES
    assert tally.error_codes <= {code.value for code in Code} - {Code.INTERNAL.value}
    assert set(tally.closes) <= {1006, 1007, 1009}
    await bystander.send({"type": "ping", "ref": "still-there"})
    assert (await bystander.wait_type("pong"))["ref"] == "still-there"
    await bystander.close()
    codes = sorted(tally.error_codes)
    print(f"socket fuzz: {tally.frames} frames, closes {tally.closes}, codes {codes}")
