"""Structured logs for ``syncserver serve --log-format json`` (docs/operations.md).

One JSON object per line: a line per HTTP request on stdout (logger ``syncserver.requests``,
in place of uvicorn's access log, which json mode turns off), and the server's other messages
(uvicorn's, the app's warnings and errors) as JSON on stderr.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.types import Scope

from syncserver.api.metrics import route_of

__all__ = ["REQUEST_LOGGER", "JsonFormatter", "LogFormat", "configure_json_logging", "log_request"]

LogFormat = Literal["text", "json"]

REQUEST_LOGGER = "syncserver.requests"

_request_log = logging.getLogger(REQUEST_LOGGER)

_REQUEST_FIELDS = ("method", "route", "status", "duration_ms", "client", "terminal", "entries")


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC, ISO 8601), level, then the request's fields
    for a request line, else the logger and message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {"time": stamp.replace("+00:00", "Z"), "level": record.levelname}
        request: dict[str, Any] | None = getattr(record, "request", None)
        if request is not None:
            line.update(request)
        else:
            line["logger"] = record.name
            line["message"] = record.getMessage()
            if record.exc_info:
                line["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: a line stays one line and plain ASCII whatever a message holds.
        return json.dumps(line, ensure_ascii=True, default=str)


def log_request(scope: Scope, status: int, seconds: float) -> None:
    """The request's line: what the routes noted on ``Request.state`` (the till, what a
    push stored) plus what every request has. Never the raw path or query string: they can
    hold card numbers, and the route template says which endpoint it was."""
    if not _request_log.isEnabledFor(logging.INFO):
        return
    state: dict[str, Any] = scope.get("state") or {}
    client = scope.get("client")
    fields: dict[str, Any] = {
        "method": scope.get("method"),
        "route": route_of(scope),
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "client": client[0] if client else None,
    }
    if state.get("terminal") is not None:
        fields["terminal"] = state["terminal"]
    if state.get("entries") is not None:
        fields["entries"] = state["entries"]
    _request_log.info("request", extra={"request": fields})


def configure_json_logging(log_level: str) -> None:
    """Every logger the server writes to as JSON; uvicorn's access log off (the request
    lines replace it: one line per request, not two). Called after uvicorn configured its own
    logging, which this replaces."""
    level = log_level.upper()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "stream": "ext://sys.stderr",
                },
                "stdout": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "stream": "ext://sys.stdout",
                },
            },
            "loggers": {
                "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
                "uvicorn.error": {"level": level},
                # No handlers and not propagated: uvicorn sees no access logger and writes
                # no access lines.
                "uvicorn.access": {"handlers": [], "level": level, "propagate": False},
                REQUEST_LOGGER: {"handlers": ["stdout"], "level": level, "propagate": False},
            },
            # The app's own warnings and errors (they reached stderr as plain text before).
            "root": {"handlers": ["stderr"], "level": "WARNING"},
        }
    )
