"""``/openapi.json`` lists every route, and schemathesis-generated requests against every
operation of it never get a 5xx from a healthy node."""

import asyncio
import uuid
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from starlette.routing import Route

from live.api.openapi import document
from tests.live.api.owner_world import owner_world
from tests.support.servers import LiveServer
from tests.support.units import UNIT_S

#: Generated requests per operation: enough to reach every field's edge cases, bounded so the
#: whole run stays well under a minute on two shared cores.
EXAMPLES_PER_OPERATION = 10


async def test_every_route_is_in_the_schema(server: LiveServer) -> None:
    """The router and the served document list the same paths and methods."""
    routed = {
        (route.path, method.lower())
        for route in server.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    async with server.client() as client:
        served = (await client.get("/openapi.json")).json()
    documented = {(path, method) for path, ops in served["paths"].items() for method in ops}
    assert routed == documented
    assert served == document()


def _path_values(path: str, ids: dict[str, str]) -> dict[str, str]:
    archived = any(part in path for part in ("clips", "replay", "archive"))
    values = {
        "session_id": ids["ended"] if archived else ids["live"],
        "product_id": ids["product"],
        "order_id": ids["order"],
        "sale_id": ids["sale"],
        "draw_id": ids["draw"],
        "clip_id": ids["clip"],
        "store_id": ids["store"],
        "guide_id": ids["guide"],
        "comment_id": "1",
    }
    return {name: value for name, value in values.items() if "{" + name + "}" in path}


def _run(
    strategy: st.SearchStrategy[Any], base_url: str, http: requests.Session, headers: dict[str, str]
) -> tuple[int, list[str]]:
    """Send ``strategy``'s cases; returns (requests sent, 5xx answers described)."""
    sent, failures = 0, []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        nonlocal sent
        response = case.call(base_url=base_url, session=http, headers=headers, timeout=30 * UNIT_S)
        sent += 1
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:200]}"
            )

    check()
    return sent, failures


def _fuzz(base_url: str, tokens: dict[str, str], ids: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation of the schema, positive cases on real ids and negative ones."""
    schema = schemathesis.openapi.from_dict(document())
    sent, failures = 0, []
    with requests.Session() as http:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            if operation.definition.raw.get("x-outbound"):
                # It sets a URL the node then calls: generated hosts are not ours to reach.
                continue
            roles = operation.definition.raw.get("x-roles") or []
            headers = {"Authorization": f"Bearer {tokens[roles[0]]}"} if roles else {}
            strategy = st.one_of(
                operation.as_strategy(path_parameters=_path_values(operation.path, ids)),
                operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
            )
            count, failed = _run(strategy, base_url, http, headers)
            sent += count
            failures += failed
    return sent, failures


async def test_schema_fuzzing_gets_no_server_error(server: LiveServer) -> None:
    """Positive and negative generated requests on every operation: no 5xx, node healthy after."""
    roomy = server  # write limits are lifted in the harness settings
    ids = await owner_world(roomy)
    tokens = {
        role: roomy.token(role, sub, **claims)
        for role, sub, claims in [
            ("viewer", "viewer-1", {}),
            ("guide", ids["guide"], {"store": ids["store"]}),
            ("manager", "mgr", {"store": ids["store"]}),
            ("host", "host-1", {}),
            ("admin", f"a-{uuid.uuid4().hex[:4]}", {}),
        ]
    }
    sent, failures = await asyncio.to_thread(_fuzz, roomy.base_url, tokens, ids)
    assert not failures, "\n".join(failures[:20])
    print(f"schemathesis: {sent} requests, 0 answered 5xx")
    assert sent >= 5 * len(document()["paths"])
    async with roomy.client() as client:
        assert (await client.get("/healthz")).status_code == 200
