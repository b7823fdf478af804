"""Log lines: JSON (one object per line) or text, every line stamped with the request id and
scrubbed of credentials.

Contract: whatever a log call is given (a URL with ``?token=``, an ``Authorization`` header, a
token inside an exception message), the formatted line carries no bearer token, JWT or
``token=``/``share=``/``signature`` value: they are replaced by ``***`` at formatting time, so
third-party loggers (uvicorn logs room socket URLs with their query) are covered too.
"""

import contextvars
import logging
import re
import time
from typing import Any

import orjson

#: The request being served by this task (set by `live.api.request_ids`), "-" outside one.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_SECRETS = re.compile(
    r"(?P<param>(?:token|share|signature|secret|password)=)[^&\s\"']+"
    r"|(?P<scheme>[Bb]earer\s+)[^\s\"']+"
    r"|(?P<header>[Xx]-[Ss]ignature[\"']?\s*[:=]\s*[\"']?)[0-9a-fA-F]+"
    r"|eyJ[\w-]*\.[\w-]+\.[\w-]*"
)


def _mask(match: re.Match[str]) -> str:
    kept = match.group("param") or match.group("scheme") or match.group("header") or ""
    return f"{kept}***"


def scrub(text: str) -> str:
    """``text`` with every credential-looking value replaced by ``***``."""
    # Most lines (every access line) hold none of the patterns' anchors: skip the regex.
    if "=" not in text and "eyJ" not in text and "earer" not in text and ":" not in text:
        return text
    return _SECRETS.sub(_mask, text)


_second: tuple[int, str] = (-1, "")


def _utc_stamp(created: float, msecs: float) -> str:
    """ISO 8601 UTC with milliseconds; the seconds part is formatted once per second."""
    # A one-entry cache; threads racing on it at worst format the same second twice.
    global _second
    whole = int(created)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int(msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", "exc"?}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line, scrubbed."""
        entry: dict[str, Any] = {
            "ts": _utc_stamp(record.created, record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": request_id.get(),
        }
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


class TextFormatter(logging.Formatter):
    """``LEVEL logger [request id]: message``, scrubbed."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """One text line (plus a traceback), scrubbed."""
        record.request_id = request_id.get()
        return scrub(super().format(record))


class DropDenialNoise(logging.Filter):
    """Drops uvicorn's error line after a refused WebSocket upgrade.

    uvicorn (websockets-sansio, 0.54) logs "ASGI callable returned without completing handshake"
    at ERROR whenever the app answers an upgrade with a denial response (HTTP 403/429) instead of
    accepting: every refused Origin or capped client would write an error line, which lets a
    hostile page fill the logs. Every path of the room socket accepts, closes or denies, so the
    line carries no other information.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for that one message."""
        return record.getMessage() != "ASGI callable returned without completing handshake."


def config(log_format: str, *, level: str = "INFO", access_log: bool = True) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the app and uvicorn, in ``log_format`` (json|text);
    ``access_log=False`` silences the ``live.access`` lines."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    handler = {"class": "logging.StreamHandler", "formatter": "live", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"live": {"()": formatter}},
        "filters": {"denials": {"()": DropDenialNoise}},
        "handlers": {"stderr": {**handler, "filters": ["denials"]}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's own handlers would print unscrubbed text lines; send them through ours.
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            "live.access": {"level": level if access_log else "WARNING"},
            # A room socket's own lines from uvicorn and websockets (live.platform.ws_protocol).
            "uvicorn.error.sockets": {"level": "DEBUG" if level == "DEBUG" else "WARNING"},
        },
    }
