"""Request ids on the wire: ours sent upstream, the service's own read back and logged.

Every attempt carries the id of the MCP request it serves (``tracing.py``) as
``X-Request-Id``. When the answer names its own request id (``x-request-id``, the
header the official SDK's platform sends; gateways' ``x-amzn-requestid`` or
``cf-ray`` otherwise), both ids go into the log line of that attempt, so an operator can
hand TinyFish (or Browserbase) the id their support looks up.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..tracing import REQUEST_ID_HEADER, current_request_id, sane_request_id
from .constants import REQUEST_ID_HEADERS

__all__ = ["ids_note", "outgoing_request_id", "upstream_request_id"]


def outgoing_request_id(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with ``X-Request-Id`` set to the current request's id (when one is open)."""
    request_id = current_request_id()
    if request_id is not None:
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def upstream_request_id(headers: Mapping[str, str]) -> str | None:
    """The service's own id for the request, when it sent a sane one (bounded, plain token)."""
    for name in REQUEST_ID_HEADERS:
        found = sane_request_id(headers.get(name))
        if found is not None:
            return found
    return None


def ids_note(headers: Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
    """A log line's suffix naming the service's own request id (`` (upstream request <id>)``),
    and the same as a record attribute (``upstream_request_id``) for JSON lines; ours is
    on every line already (``tracing.RequestIdFilter``)."""
    theirs = upstream_request_id(headers) if headers is not None else None
    if theirs is None:
        return "", {}
    return f" (upstream request {theirs})", {"upstream_request_id": theirs}
