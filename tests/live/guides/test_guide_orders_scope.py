"""Who reads which guide's orders: a guide its own, a store manager its store's guides, a brand
admin every guide's, nobody another brand's; pages and CSV export agree."""

import csv
import io

import pytest

from tests.live.guides.shares import join_and_buy, share_code
from tests.support.servers import LiveServer
from tests.support.sessions import open_session

ORG = """kind,id,name,store_id,upstream_guide_id,active
store,north,North,,,
store,south,South,,,
guide,ann,Ann,north,,
guide,bo,Bo,north,,
guide,cy,Cy,south,,
"""


@pytest.fixture
async def orders(server: LiveServer) -> dict[str, str]:
    """One order attributed to each of ann, bo (store north) and cy (south): guide -> order."""
    async with server.client(server.token("admin", "boss")) as admin:
        imported = await admin.post("/api/org/import", content=ORG.encode())
        assert imported.status_code == 200, imported.text
    opened = await open_session(server, stock=10, limit=5)
    placed = {}
    for n, guide in enumerate(("ann", "bo", "cy")):
        share = await share_code(server, opened.session_id, guide)
        order = await join_and_buy(
            server, opened.session_id, opened.product_id, f"c{n}", share=share["code"], key="k"
        )
        placed[guide] = str(order["order_id"])
    return placed


async def _seen(server: LiveServer, token: str, path: str, **params: str) -> set[str] | str:
    async with server.client(token) as client:
        answer = await client.get(path, params=params)
    body = answer.json()
    if "error" in body:
        return str(body["error"]["code"])
    return {item["guide_id"] for item in body["items"]}


@pytest.mark.parametrize(
    ("role", "claims", "path", "params", "expected"),
    [
        ("guide", {"sub": "ann"}, "/api/guides/me/orders", {}, {"ann"}),
        ("guide", {"sub": "ann"}, "/api/guides/me/orders", {"guide_id": "bo"}, {"ann"}),
        ("guide", {"sub": "ann"}, "/api/guides/orders", {}, "forbidden"),
        ("manager", {"sub": "m", "store": "north"}, "/api/guides/orders", {}, {"ann", "bo"}),
        (
            "manager",
            {"sub": "m", "store": "north"},
            "/api/guides/orders",
            {"guide_id": "bo"},
            {"bo"},
        ),
        (
            "manager",
            {"sub": "m", "store": "north"},
            "/api/guides/orders",
            {"guide_id": "cy"},
            set(),
        ),
        (
            "manager",
            {"sub": "m", "store": "north"},
            "/api/guides/orders",
            {"store_id": "south"},
            "forbidden",
        ),
        ("manager", {"sub": "m"}, "/api/guides/orders", {}, "forbidden"),
        ("admin", {"sub": "a"}, "/api/guides/orders", {}, {"ann", "bo", "cy"}),
        ("admin", {"sub": "a"}, "/api/guides/orders", {"store_id": "south"}, {"cy"}),
        ("admin", {"sub": "a", "brand": "rival-of-scope-test"}, "/api/guides/orders", {}, set()),
        ("viewer", {"sub": "c0"}, "/api/guides/orders", {}, "forbidden"),
        ("host", {"sub": "h"}, "/api/guides/orders", {}, "forbidden"),
    ],
)
async def test_each_role_sees_exactly_its_scope(
    server: LiveServer,
    orders: dict[str, str],
    role: str,
    claims: dict[str, str],
    path: str,
    params: dict[str, str],
    expected: set[str] | str,
) -> None:
    """The role x scope matrix of the guide order listings."""
    claims = dict(claims)
    token = server.token(role, claims.pop("sub"), **claims)
    assert await _seen(server, token, path, **params) == expected


async def test_csv_export_matches_the_pages(server: LiveServer, orders: dict[str, str]) -> None:
    """``format=csv``: a header and one row per order, the same orders as the JSON pages."""
    async with server.client(server.token("admin", "a")) as admin:
        exported = await admin.get("/api/guides/orders", params={"format": "csv"})
        paged = await admin.get("/api/guides/orders", params={"limit": "2"})
        rest = await admin.get(
            "/api/guides/orders", params={"limit": "2", "cursor": paged.json()["next_cursor"]}
        )
        one = await admin.get("/api/guides/orders", params={"format": "csv", "limit": "1"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["order_id"] for row in rows} == set(orders.values())
    assert {row["guide_id"]: row["order_id"] for row in rows} == orders
    page_ids = [item["order_id"] for item in paged.json()["items"] + rest.json()["items"]]
    assert page_ids == [row["order_id"] for row in rows]
    assert len(list(csv.DictReader(io.StringIO(one.text)))) == 1
    assert one.headers["x-next-cursor"]
