"""docs/protocol.md's endpoint table lists exactly the routes of the app (its router, and the
room socket served ahead of it)."""

import re
from pathlib import Path

from starlette.routing import Mount, Route, WebSocketRoute

from live.api import room
from live.app import ROUTES

ROOT = Path(__file__).resolve().parents[1]

#: A table row: the methods (``GET``, ``GET / PUT``, ``WebSocket``), then the path in backticks,
#: with the query parameters the reader is shown (``?a=&b=``), which are not part of a route.
ROW = re.compile(r"^\| (?P<methods>[A-Za-z /]+?) \| `(?P<path>[^`?]+)[^`]*` \|", re.MULTILINE)


def _documented() -> set[tuple[str, str]]:
    """(method, path) of every row of the table that opens section 3."""
    doc = (ROOT / "docs/protocol.md").read_text("utf-8")
    section = doc.split("\n## 3. HTTP endpoints\n", 1)[1].split("\n### ", 1)[0]
    found = {
        (method.strip().upper(), row["path"])
        for row in ROW.finditer(section)
        for method in row["methods"].split("/")
    }
    assert len(found) > 50, "the endpoint table was not found where section 3 starts"
    return found


def _routed() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; HEAD comes with GET, so it is left out.
    The room socket is served ahead of the router, by its own middleware."""
    found: set[tuple[str, str]] = {("WEBSOCKET", room.PATH)}
    for route in ROUTES:
        if isinstance(route, Route):
            found.update((method, route.path) for method in route.methods or () if method != "HEAD")
        elif isinstance(route, WebSocketRoute):
            found.add(("WEBSOCKET", route.path))
        elif isinstance(route, Mount):
            found.add(("GET", f"{route.path}/{{path}}"))
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def test_every_route_is_in_the_table() -> None:
    """A route of the router missing from the table of section 3 fails."""
    missing = sorted(_routed() - _documented())
    assert not missing, f"routes missing from docs/protocol.md section 3: {missing}"


def test_the_table_lists_only_routes_that_exist() -> None:
    """A row of the table that names no route of the router fails."""
    unknown = sorted(_documented() - _routed())
    assert not unknown, f"docs/protocol.md section 3 lists routes that do not exist: {unknown}"
