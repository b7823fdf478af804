"""The catalog of client-facing error codes and socket close codes, and the one base class of
engine outages.

One catalog for every answer a client can get: HTTP errors (``{"error": {code, message}}``) and
WebSocket ``error`` frames carry a `Code`; sockets the server closes carry a `CloseCode`.
`docs/protocol.md` lists the same table.

Each package translates its engine's exceptions at its own boundary (``raise ... from exc``);
an outage becomes a subclass of `EngineUnavailable` (`inventory.errors.InventoryUnavailable`,
`realtime.bus.BusUnavailable`, `replay.errors.ArchiveUnavailable`, the record's
`DatabaseUnavailable` below). `OUTAGES` is what code that answers "retry later" catches.
"""

from enum import IntEnum, StrEnum

from redis.exceptions import RedisClusterException, RedisError


class Code(StrEnum):
    """Client-facing error codes, with the HTTP status each maps to in `STATUS`."""

    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_TYPE = "unknown_type"
    FRAME_TOO_LARGE = "frame_too_large"
    UNAUTHORIZED = "unauthorized"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_INVALID = "token_invalid"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    SESSION_NOT_LIVE = "session_not_live"
    SESSION_ENDED = "session_ended"
    SOLD_OUT = "sold_out"
    LIMIT_EXCEEDED = "limit_exceeded"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    REQUEST_IN_PROGRESS = "request_in_progress"
    COUPON_SOLD_OUT = "coupon_sold_out"
    COUPON_LIMIT_EXCEEDED = "coupon_limit_exceeded"
    COUPON_EXPIRED = "coupon_expired"
    COUPON_NOT_CLAIMED = "coupon_not_claimed"
    COUPON_MIN_SPEND = "coupon_min_spend"
    BAD_SIGNATURE = "bad_signature"
    AMOUNT_MISMATCH = "amount_mismatch"
    ORDER_EXPIRED = "order_expired"
    RATE_LIMITED = "rate_limited"
    COMMENT_TOO_LONG = "comment_too_long"
    COMMENT_REJECTED = "comment_rejected"
    MUTED = "muted"
    KICKED = "kicked"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    BUSY = "busy"
    ARCHIVE_PENDING = "archive_pending"
    ARCHIVE_DELETED = "archive_deleted"
    SALE_PAUSED = "sale_paused"
    SALE_NOT_OPEN = "sale_not_open"
    IN_STOCK = "in_stock"
    WAITLIST_LIMIT_EXCEEDED = "waitlist_limit_exceeded"
    OFFER_EXPIRED = "offer_expired"
    PAYMENT_UNAVAILABLE = "payment_unavailable"
    LINK_REVOKED = "link_revoked"
    BUDGET_EXHAUSTED = "budget_exhausted"
    RESERVATIONS_CLOSED = "reservations_closed"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


STATUS: dict[Code, int] = {
    Code.INVALID_JSON: 400,
    Code.INVALID_REQUEST: 422,
    Code.UNKNOWN_TYPE: 400,
    Code.FRAME_TOO_LARGE: 413,
    Code.UNAUTHORIZED: 401,
    Code.TOKEN_EXPIRED: 401,
    Code.TOKEN_INVALID: 401,
    Code.FORBIDDEN: 403,
    Code.NOT_FOUND: 404,
    Code.METHOD_NOT_ALLOWED: 405,
    Code.CONFLICT: 409,
    Code.SESSION_NOT_LIVE: 409,
    Code.SESSION_ENDED: 409,
    Code.SOLD_OUT: 409,
    Code.LIMIT_EXCEEDED: 409,
    Code.IDEMPOTENCY_KEY_REQUIRED: 400,
    Code.IDEMPOTENCY_KEY_REUSED: 422,
    Code.REQUEST_IN_PROGRESS: 409,
    Code.COUPON_SOLD_OUT: 409,
    Code.COUPON_LIMIT_EXCEEDED: 409,
    Code.COUPON_EXPIRED: 409,
    Code.COUPON_NOT_CLAIMED: 409,
    Code.COUPON_MIN_SPEND: 409,
    Code.BAD_SIGNATURE: 401,
    Code.AMOUNT_MISMATCH: 409,
    Code.ORDER_EXPIRED: 409,
    Code.RATE_LIMITED: 429,
    Code.COMMENT_TOO_LONG: 422,
    Code.COMMENT_REJECTED: 422,
    Code.MUTED: 403,
    Code.KICKED: 403,
    Code.ORIGIN_NOT_ALLOWED: 403,
    Code.TOO_MANY_CONNECTIONS: 429,
    Code.BUSY: 503,
    Code.ARCHIVE_PENDING: 409,
    Code.ARCHIVE_DELETED: 410,
    Code.SALE_PAUSED: 503,
    Code.SALE_NOT_OPEN: 409,
    Code.IN_STOCK: 409,
    Code.WAITLIST_LIMIT_EXCEEDED: 409,
    Code.OFFER_EXPIRED: 409,
    Code.PAYMENT_UNAVAILABLE: 409,
    Code.LINK_REVOKED: 410,
    Code.BUDGET_EXHAUSTED: 409,
    Code.RESERVATIONS_CLOSED: 409,
    Code.UNAVAILABLE: 503,
    Code.INTERNAL: 500,
}


class CloseCode(IntEnum):
    """Close codes of the room socket and the replay socket.

    4000-4099: do not reconnect with the same credentials (fix the token or the URL first).
    4100-4199: reconnect, after a back-off.
    1009 is the standard code the server uses for a frame over the size limit, 1007 for a text
    frame that is not valid UTF-8 (both sent by the WebSocket layer before the app sees it).
    """

    TOKEN_INVALID = 4001
    SESSION_NOT_FOUND = 4004
    KICKED = 4009
    #: Replay socket: the session has not ended, or its archive was deleted.
    NOT_REPLAYABLE = 4010
    ORIGIN_NOT_ALLOWED = 4013
    #: Replay socket: a query parameter is invalid (speed, window, clip).
    INVALID_REQUEST = 4022
    TOO_MANY_CONNECTIONS = 4029
    SLOW = 4100
    SHUTTING_DOWN = 4101
    #: Room socket: the node is taking as many joins as it can; come back after the
    #: ``retry_after_ms`` the ``error`` frame and the close reason carry (with jitter).
    BUSY = 4103
    #: Replay socket: the session's archive is still being written.
    ARCHIVE_PENDING = 4102
    MESSAGE_TOO_BIG = 1009
    INVALID_UTF8 = 1007


class ClientError(Exception):
    """An error answered to a client; carries its catalog `code` and a human `message`."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status of this error."""
        return STATUS[self.code]

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON error body shared by HTTP answers."""
        return {"error": {"code": self.code.value, "message": self.message}}


class EngineUnavailable(Exception):
    """A backing engine (Redis, the record, the archive store) could not serve a call now;
    retrying later may succeed, and nothing may be assumed done or undone."""


class DatabaseUnavailable(ClientError, EngineUnavailable):
    """The record could not be reached or failed the transaction; nothing of it was committed.

    A `ClientError` too: handlers answer it as ``unavailable`` (503) like any catalog error.
    """

    def __init__(self) -> None:
        super().__init__(Code.UNAVAILABLE, "the database is unavailable; retry")


#: Every outage as code that retries sees it: our translations, and a Redis error that no
#: package translated (redis-py's cluster errors, such as "no node reachable", are not
#: `RedisError` subclasses).
OUTAGES: tuple[type[Exception], ...] = (EngineUnavailable, RedisError, RedisClusterException)
