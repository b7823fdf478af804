"""What a delivery sends: the Standard Webhooks payload and its signed headers.

The body is ``{"type", "timestamp", "data"}`` (the timestamp of the event, ISO 8601 UTC);
the headers are ``webhook-id`` (the event's id, the same on every attempt and every endpoint:
receivers deduplicate on it), ``webhook-timestamp`` (Unix seconds of the attempt) and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under the
endpoint's secret), signed by the ``standardwebhooks`` library.
"""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

from common import codec

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of secrets, not one


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def body(kind: str, created_ms: int, data_json: str) -> bytes:
    """The payload of an event whose ``data`` is stored as JSON text."""
    stamp = datetime.fromtimestamp(created_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    envelope = {"type": kind, "timestamp": stamp.replace("+00:00", "Z"), "data": None}
    # The stored data is spliced in as it was written: decoding and encoding it again per
    # attempt would cost CPU and could reorder nothing useful.
    head = codec.encode(envelope)[: -len(b"null}")]
    return head + data_json.encode() + b"}"


def headers(secret: str, event_id: str, payload: bytes, *, now_s: float) -> dict[str, str]:
    """The signed headers of one attempt at ``now_s`` (Unix seconds)."""
    at = datetime.fromtimestamp(int(now_s), tz=UTC)
    # standardwebhooks 1.1 signs text (1.3 takes bytes too): the body is UTF-8 JSON.
    signature = Webhook(secret).sign(event_id, at, payload.decode())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now_s)),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
