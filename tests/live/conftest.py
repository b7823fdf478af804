"""Fixtures of the application's tests: apps with the settings several domains' tests need.

The app on the suite's engines (`server`, `server_with`) comes from ``tests/conftest.py``.
"""

import pytest

from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import OpenSession, open_session


@pytest.fixture
async def short_holds(server_with: ServerWith) -> LiveServer:
    """An app whose holds lapse after one second."""
    return await server_with(hold_ttl_s=1)


@pytest.fixture
async def opened(server: LiveServer) -> OpenSession:
    """A live session on `server` with one product (stock 10, two per viewer), as its host
    set it up."""
    return await open_session(server)
