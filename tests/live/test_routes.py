"""The app's routing table: no route shadows another, so the order of the routes (the order
path is tried first, `live.app`) changes no answer."""

import re
from pathlib import Path

from starlette.routing import Match, Mount, Route, WebSocketRoute

from live.app import create_app
from tests.support.servers import settings_for


def _concrete(path: str) -> str:
    """``path`` with every ``{param}`` (or ``{param:type}``) given a value its type accepts."""
    return re.sub(r"\{[^}:]+(?::(\w+))?\}", lambda m: "7" if m.group(1) == "int" else "p7", path)


def test_every_request_of_a_route_matches_that_route_alone(tmp_path: Path) -> None:
    """For each route, method and a path it serves, exactly one route matches fully."""
    settings = settings_for(tmp_path, database_url="sqlite://", redis_url="redis://unused")
    routes = create_app(settings).router.routes
    checked = 0
    for route in routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route | WebSocketRoute)
        kind = "websocket" if isinstance(route, WebSocketRoute) else "http"
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            scope = {"type": kind, "path": _concrete(route.path), "method": method}
            full = [other for other in routes if other.matches(scope)[0] == Match.FULL]
            assert full == [route], f"{method} {scope['path']}: {full}"
            checked += 1
    assert checked > 60
