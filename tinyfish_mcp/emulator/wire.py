"""Wire-level helpers shared by every endpoint: timestamps, the error body, JSON input.

Every API error is sent in the documented shape ``{"error": {"code", "message",
"details"?}}``; ``details`` appears only on validation failures and is a list of
Zod-like issues ``{"code", "path", "message"}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = [
    "ApiError",
    "Issue",
    "error_body",
    "error_response",
    "invalid_input",
    "iso",
    "issue",
    "now",
    "parse_iso",
    "read_json",
]

Issue = dict[str, Any]

# The default code for an HTTP status when a fault or handler gives only a status.
STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("INVALID_INPUT", "Validation failed"),
    401: ("UNAUTHORIZED", "Authentication failed"),
    402: ("INSUFFICIENT_CREDITS", "Insufficient credits or no active subscription"),
    403: ("FORBIDDEN", "Insufficient credits or no active subscription"),
    404: ("NOT_FOUND", "Not found"),
    408: ("TIMEOUT", "Request timed out"),
    429: ("RATE_LIMIT_EXCEEDED", "Rate limit exceeded. Try again in 60 seconds."),
}


def now() -> datetime:
    """The current UTC time at the wire's millisecond precision, so that filtering on
    a timestamp the API returned compares equal to the stored value."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision and a ``Z`` suffix, as the service sends."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime | None:
    """Read an ISO 8601 timestamp (``Z`` allowed); naive values are taken as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ApiError(Exception):
    """Raised by a handler to answer with the documented error body."""

    def __init__(self, status: int, code: str, message: str, details: list[Issue] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def issue(code: str, path: list[str | int], message: str) -> Issue:
    """One Zod-like validation issue."""
    return {"code": code, "path": path, "message": message}


def invalid_input(details: list[Issue], message: str = "Validation failed") -> ApiError:
    return ApiError(400, "INVALID_INPUT", message, details)


def error_body(code: str, message: str, details: list[Issue] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int, code: str | None = None, message: str | None = None, details: list[Issue] | None = None
) -> JSONResponse:
    default_code, default_message = STATUS_CODES.get(
        status, ("INTERNAL_ERROR", "An unexpected error occurred")
    )
    return JSONResponse(
        error_body(code or default_code, message or default_message, details), status_code=status
    )


async def read_json(request: Request) -> Any:
    """The decoded JSON body; a body that is not JSON is an INVALID_INPUT error."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid_input(
            [{"code": "invalid_json", "path": [], "message": "Request body is not valid JSON"}],
            "Invalid JSON body",
        ) from None
