"""Log line formats: ``text`` (the default) or ``json``, one object per line for log pipelines.

Both format the record's message after the log redaction (``http/redaction.py``) has
rewritten it, so a credential is masked the same way in either. A line written while a
request is handled carries its id (``tracing.RequestIdFilter``, installed on the
handler by :func:`log_handler`): ``[req=...]`` at the end of a text line, a
``request_id`` field in JSON. The access log's fields (``http/access.py``) and the
upstream's own request id become JSON fields of their own.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from .tracing import RequestIdFilter

__all__ = [
    "EXTRA_FIELDS",
    "TEXT_FORMAT",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "formatter",
    "log_handler",
]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes of a record copied into its JSON line when present: the access log's fields
# (``http/access.py``), and the upstream's own request id (``upstream/tracing.py``).
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "user", "upstream_request_id")


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT``, with `` [req=<id>]`` when the line belongs to a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [req={request_id}]" if request_id else line


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message"}``, plus ``request_id``, :data:`EXTRA_FIELDS` and
    ``exception`` when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for field in EXTRA_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else TextFormatter()


def log_handler(kind: str) -> logging.Handler:
    """The process's log handler: stderr (stdout belongs to the stdio protocol), ``kind``
    lines, each tagged with the request it belongs to."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(kind))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(level: str, kind: str) -> None:
    """The process's logging: one :func:`log_handler` at ``level``, chatty libraries quieted."""
    logging.basicConfig(level=level, handlers=[log_handler(kind)])
    if level != "DEBUG":
        # One line per upstream request is noise at INFO (URLs only; keys are headers).
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # Two lines per SQL statement, parameters included, even at DEBUG: noise, and stored values.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
