"""Scripted faults: the next N requests matching a route misbehave in a chosen way.

A fault is registered through ``POST /_emulator/faults`` and consumed by matching API
requests, first registered first used. ``path`` may contain ``*`` wildcards
(``/v1/runs/*``). Kinds (one fault may combine them):

- ``status``: answer with that HTTP status and the documented error body;
- ``delay``: wait that many seconds before handling the request;
- ``hang``: never answer (until the client goes away or the server stops);
- ``drop``: close the connection without a complete answer (headers, then nothing);
- ``drop_after``: an SSE stream is closed after k events, without COMPLETE (0: before
  the first event);
- ``malformed_after``: an SSE stream sends a non-JSON ``data:`` line after k events;
- ``retry_after``: a ``status`` answer carries ``Retry-After`` with that many seconds,
  as delta-seconds, or as an HTTP-date when ``retry_after_date`` is true.

``after``: apply ``delay``, ``hang``, ``drop`` and ``status`` only once the request has
been handled — the run or session is created, then the answer is slow, never comes,
breaks off or is an error. That is the ambiguous failure a client cannot tell from one
before processing, and the one that must not make it create twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from fnmatch import fnmatchcase
from typing import Any

from .wire import Issue, issue

__all__ = ["Fault", "FaultBook", "parse_fault"]


@dataclass
class Fault:
    path: str
    method: str | None = None
    count: int = 1
    status: int | None = None
    delay: float | None = None
    hang: bool = False
    drop_after: int | None = None
    malformed_after: int | None = None
    drop: bool = False
    after: bool = False
    retry_after: float | None = None
    retry_after_date: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return fnmatchcase(path, self.path)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    def headers(self) -> dict[str, str]:
        """``Retry-After`` for a status answer, when asked for."""
        if self.retry_after is None:
            return {}
        if self.retry_after_date:
            moment = datetime.now(UTC) + timedelta(seconds=self.retry_after)
            return {"Retry-After": format_datetime(moment, usegmt=True)}
        return {"Retry-After": f"{self.retry_after:g}"}


class FaultBook:
    """The pending faults, in registration order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault matching this request."""
        for fault in self._faults:
            if fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        return [fault.to_wire() for fault in self._faults]

    def clear(self) -> None:
        self._faults.clear()


def _optional_number(body: dict[str, Any], name: str, issues: list[Issue], *, integer: bool) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        issues.append(issue("invalid_type", [name], f"{name} must be a number >= 0"))
        return None
    return value


def parse_fault(body: object) -> tuple[Fault | None, list[Issue]]:
    """A fault from the control API body, or the issues that make it unusable."""
    if not isinstance(body, dict):
        return None, [issue("invalid_type", [], "expected a JSON object")]
    issues: list[Issue] = []
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        issues.append(issue("invalid_type", ["path"], "path must start with /"))
    method = body.get("method")
    if method is not None and not isinstance(method, str):
        issues.append(issue("invalid_type", ["method"], "method must be a string"))
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        issues.append(issue("too_small", ["count"], "count must be an integer >= 1"))
    status = _optional_number(body, "status", issues, integer=True)
    if status is not None and not 400 <= status <= 599:
        issues.append(issue("invalid_value", ["status"], "status must be 4xx or 5xx"))
    delay = _optional_number(body, "delay", issues, integer=False)
    drop_after = _optional_number(body, "drop_after", issues, integer=True)
    malformed_after = _optional_number(body, "malformed_after", issues, integer=True)
    retry_after = _optional_number(body, "retry_after", issues, integer=False)
    flags = {}
    for name in ("hang", "drop", "after", "retry_after_date"):
        flags[name] = body.get(name, False)
        if flags[name] is None:
            flags[name] = False
        if not isinstance(flags[name], bool):
            issues.append(issue("invalid_type", [name], f"{name} must be a boolean"))
    if issues:
        return None, issues
    fault = Fault(
        path=str(path),
        method=method,
        count=int(count),
        status=status,
        delay=delay,
        hang=bool(flags["hang"]),
        drop_after=drop_after,
        malformed_after=malformed_after,
        drop=bool(flags["drop"]),
        after=bool(flags["after"]),
        retry_after=retry_after,
        retry_after_date=bool(flags["retry_after_date"]),
    )
    return fault, []
