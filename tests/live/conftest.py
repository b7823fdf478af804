"""Fixtures of the application's tests: apps with the settings several domains' tests need.

The app on the suite's engines (`server`, `server_with`) comes from ``tests/conftest.py``.
"""

import pytest

from tests.support.servers import LiveServer, ServerWith


@pytest.fixture
async def short_holds(server_with: ServerWith) -> LiveServer:
    """An app whose holds lapse after one second."""
    return await server_with(hold_ttl_s=1)
