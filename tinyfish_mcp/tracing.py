"""Request ids: one per MCP request, kept in a context variable every layer can read.

The hosted server's access log (``http/access.py``) opens a :class:`Trace` for each
HTTP request, with the client's ``X-Request-Id`` when it is a sane token, else a new
one; the tool layer opens one per tool call when none is open (stdio). The upstream
clients send its id as ``X-Request-Id`` on every attempt, and every log line written
meanwhile carries it (:class:`RequestIdFilter`, read by ``logformat.py``).

This module imports nothing of ours (and not ``mcp``), so the lowest layers may use it.
A trace also notes who made the request: a short hash of the user's TinyFish key
(:func:`user_hash`, the one ``tinyfish-mcp admin grants`` shows), never the key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "MAX_REQUEST_ID",
    "REQUEST_ID_HEADER",
    "RequestIdFilter",
    "Trace",
    "current_request_id",
    "current_trace",
    "new_request_id",
    "note_user",
    "sane_request_id",
    "traced",
    "user_hash",
]

REQUEST_ID_HEADER = "X-Request-Id"
MAX_REQUEST_ID = 128
# Letters, digits and ``._:-``: what request ids of proxies and SDKs use (uuids, hex,
# ``req_...``), nothing that can break a log line or a header.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")


@dataclass(slots=True)
class Trace:
    """The request being handled: its id, and the user's short hash once a key was used."""

    request_id: str
    user: str | None = None


_current: ContextVar[Trace | None] = ContextVar("tinyfish_mcp_trace", default=None)


def new_request_id() -> str:
    """A fresh id: 16 random hex digits."""
    return secrets.token_hex(8)


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is usable as a request id (bounded, safe characters), else None."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_REQUEST_ID or not _SANE.fullmatch(value):
        return None
    return value


def current_trace() -> Trace | None:
    return _current.get()


def current_request_id() -> str | None:
    trace = _current.get()
    return trace.request_id if trace is not None else None


@contextmanager
def traced(trace: Trace | str | None = None) -> Iterator[Trace]:
    """Handle a request under ``trace`` (a :class:`Trace`, an id, or a new id) until the block ends."""
    if not isinstance(trace, Trace):
        trace = Trace(trace or new_request_id())
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def user_hash(api_key: str) -> str:
    """A user's name in logs and admin output: the first 12 hex digits of the key's SHA-256."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def note_user(api_key: str) -> None:
    """Record, in the current trace, whose key the request uses (as its short hash)."""
    trace = _current.get()
    if trace is not None and api_key:
        trace.user = user_hash(api_key)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the id of the request being handled, or None."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True
