"""JSON responses encoded with the one codec."""

from typing import Any

from starlette.responses import Response

from common import codec
from common.errors import ClientError


class JSON(Response):
    """A JSON response (orjson)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content``."""
        return codec.encode(content)


def error(exc: ClientError, headers: dict[str, str] | None = None) -> JSON:
    """The catalog error as an HTTP answer."""
    return JSON(exc.body(), status_code=exc.status, headers=headers)
