"""Secrets never reach a log line: query parameters that carry them are masked.

A client may put a credential in a URL (``/mcp?access_token=...``, an OAuth callback's
``?code=...``); the server refuses it, but uvicorn's access log would still print the
request line in full. :func:`install_log_redaction` wraps the process's log record
factory, so every record, whichever logger or handler it goes to (uvicorn's access and
error logs included), has such values replaced before anything formats it:

- the values of ``access_token``, ``refresh_token``, ``id_token``, ``code``,
  ``code_verifier``, ``client_secret``, ``api_key``, ``apikey``, ``key``, ``token``,
  ``txn`` (the consent transaction), ``state``, ``password`` and ``secret`` parameters
  (``state`` is the client's own CSRF value: opaque to us, and nothing to debug with);
- the same credentials as JSON or dict fields (``"access_token": "..."``);
- ``Bearer`` credentials, and TinyFish API keys (``sk-tinyfish-...``) wherever they appear.

String arguments are redacted one by one, keeping their positions, so formatters that
read ``record.args`` themselves (uvicorn's access formatter does) keep working.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

__all__ = ["REDACTED", "install_log_redaction", "redact", "redact_record"]

REDACTED = "[redacted]"

_SECRET_PARAMS = (
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "token",
    "txn",
    "state",
    "password",
    "secret",
)
_PARAM = re.compile(
    r"(?<![A-Za-z0-9_])(" + "|".join(_SECRET_PARAMS) + r")=[^&\s\"'#<>]+",
    re.IGNORECASE,
)
# The same credentials as keys of JSON or a Python dict's repr (``"access_token": "..."``).
_JSON_CREDENTIALS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code_verifier",
    "api_key",
    "password",
)
_JSON_FIELD = re.compile(
    r"""(["'](?:""" + "|".join(_JSON_CREDENTIALS) + r""")["']\s*:\s*)(["'])(?:(?!\2).)*\2""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
_TINYFISH_KEY = re.compile(r"\bsk-tinyfish-[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    """``text`` with secret query values, bearer credentials and TinyFish keys masked."""
    if "=" in text:
        text = _PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    if ":" in text:
        text = _JSON_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}", text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    if "sk-tinyfish-" in text:
        text = _TINYFISH_KEY.sub(REDACTED, text)
    return text


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    return value


def redact_record(record: logging.LogRecord) -> None:
    """Redact ``record`` in place: its message, each string argument, and its traceback."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        # Formatted now, so that the handler's formatter uses this redacted text.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install_log_redaction() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_tinyfish_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    factory._tinyfish_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
