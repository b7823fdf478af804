"""The local S3 server of the run (the ``s3_server`` fixture), as the tests address it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class S3Server:
    """A running local S3 server."""

    host: str
    port: int

    @property
    def endpoint_url(self) -> str:
        """HTTP endpoint of the server."""
        return f"http://{self.host}:{self.port}"
