"""Share codes: a guide's signed, expiring token naming the guide and the session (or one clip
of it) it shares.

Format: ``base64url(JSON payload) "." base64url(HMAC-SHA256(LIVE_SECRET, payload)[:16])``.
A forged or expired code is refused with a reason; it never attributes a purchase.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass

from common import codec

SIGNATURE_BYTES = 16


class ShareCodeRefused(Exception):
    """The code is forged, malformed or expired; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ShareCode:
    """What a valid code says."""

    guide_id: str
    brand: str
    session_id: str
    store: str | None
    expires_s: int
    #: Set when the code shares one clip of the (ended) session rather than the live room.
    clip_id: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def issue(secret: str, code: ShareCode) -> str:
    """The signed text of ``code``."""
    payload = codec.encode(
        {
            "g": code.guide_id,
            "b": code.brand,
            "s": code.session_id,
            "st": code.store,
            "e": code.expires_s,
            **({"c": code.clip_id} if code.clip_id is not None else {}),
        }
    )
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def verify(secret: str, text: str, *, now_s: int) -> ShareCode:
    """The code ``text`` stands for; raises `ShareCodeRefused` with the reason otherwise."""
    try:
        payload_part, signature_part = text.split(".", 1)
        payload, signature = _unb64(payload_part), _unb64(signature_part)
    except ValueError:
        raise ShareCodeRefused("malformed") from None
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise ShareCodeRefused("bad signature")
    try:
        fields = codec.decode(payload)
        code = ShareCode(
            guide_id=str(fields["g"]),
            brand=str(fields["b"]),
            session_id=str(fields["s"]),
            store=fields.get("st"),
            expires_s=int(fields["e"]),
            clip_id=str(fields["c"]) if fields.get("c") is not None else None,
        )
    except (codec.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ShareCodeRefused("malformed") from None
    if code.expires_s <= now_s:
        raise ShareCodeRefused("expired")
    return code
