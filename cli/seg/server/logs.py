"""How ``seg serve`` writes its log: every server line (seg's and uvicorn's) through one
handler on stderr, as text or as one JSON object per line.

Each record gets the id of the request being served (``request_id``, "-" outside a request);
the access line (``seg.access``) carries its fields in ``record.access``, which the JSON form
spreads into the object. Uvicorn's own access log is off: ``seg.access`` replaces it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from seg.model.printable import escape_line
from seg.server.observe import current_request_id

__all__ = ["LOG_LEVELS", "JsonFormatter", "RequestIdFilter", "TextFormatter", "log_config"]

LogFormat = Literal["text", "json"]
LOG_LEVELS = ("debug", "info", "warning", "error")
_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the request being served, or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger> [<request id>] <message>``; line breaks, control and
    bidi characters in the message escaped (``seg.model.printable``), so one record is one
    line (a traceback follows on its own lines)."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802, ARG002
        return _time(record)

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_line(record.getMessage(), keep_tab=False)
        record.asctime = self.formatTime(record)
        line = self.formatMessage(record)
        if record.exc_info:  # the traceback below its line, as usual
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, request_id, message, the access
    fields of an access line, and ``exception`` (the traceback as text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            data.update(access)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=True, default=str)


def log_config(log_format: LogFormat, level: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of ``seg serve`` (also given to uvicorn)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"seg": {"()": formatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                       "formatter": "seg", "filters": ["request_id"]},
        },  # fmt: skip
        "loggers": {
            "seg": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
