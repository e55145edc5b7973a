"""Errors raised by the TinyFish client: one root, a branch per kind of failure.

::

    UpstreamError                      anything that went wrong talking to TinyFish
    ├── APIError                       the service answered with an error status
    │   ├── InvalidInputError          400 INVALID_INPUT (``details`` lists each problem)
    │   ├── AuthenticationError        401 MISSING_API_KEY / INVALID_API_KEY / UNAUTHORIZED
    │   ├── PermissionDeniedError      402 / 403 FORBIDDEN, INSUFFICIENT_CREDITS
    │   ├── NotFoundError              404 NOT_FOUND
    │   ├── RateLimitError             429 RATE_LIMIT_EXCEEDED
    │   └── ServerError                5xx INTERNAL_ERROR
    ├── UpstreamConnectionError        no answer: refused, reset, DNS, a broken stream
    ├── UpstreamTimeoutError           no answer in time
    │   └── DeadlineExceededError      the tool call's own deadline ran out
    └── UpstreamProtocolError          an answer we could not read (bad JSON, wrong shape)

Every error carries ``code``, ``message``, ``status`` (None when there was no
response) and ``hint``: one line telling a person or a model what to do next.
None of them ever holds the API key.

``may_have_been_processed`` says whether the service can have acted on the request:
False after a refused connection or DNS failure (``sent=False``), a 4xx (the service
refused it) or a 429; True after a 5xx, a timeout or a reset once the request went out,
or an answer we could not read. A failed create is looked for only when it is True.
``retry_at`` (ISO time, UTC) is set when the service asked us to wait past the deadline.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "APIError",
    "AuthenticationError",
    "DeadlineExceededError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamTimeoutError",
    "error_from_response",
]

_HINTS: dict[str, str] = {
    "MISSING_API_KEY": "Set TINYFISH_API_KEY to a key from https://agent.tinyfish.ai/api-keys.",
    "INVALID_API_KEY": "The API key was rejected: check it for typos or create a new one at "
    "https://agent.tinyfish.ai/api-keys.",
    "UNAUTHORIZED": "Authentication failed: check the account at https://agent.tinyfish.ai/api-keys "
    "and try a new key.",
    "FORBIDDEN": "The account lacks credits, an active subscription or access to this resource; "
    "check https://agent.tinyfish.ai/api-keys.",
    "INSUFFICIENT_CREDITS": "The account has no credits left; add credits or upgrade the plan.",
    "NOT_FOUND": "Nothing exists with that id for this account; list runs to find the right id.",
    "INVALID_INPUT": "Fix the fields named in the details and send the request again.",
    "RATE_LIMIT_EXCEEDED": "Too many requests: wait a little (about 15-60 s) before trying again.",
    "INTERNAL_ERROR": "TinyFish had a server error; retry shortly, and check "
    "https://status.agent.tinyfish.ai if it persists.",
}


class UpstreamError(Exception):
    """Root of every error the client raises."""

    default_code: ClassVar[str] = "UPSTREAM_ERROR"
    default_hint: ClassVar[str] = "Try again shortly."

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status
        self.hint = hint or _HINTS.get(self.code, self.default_hint)
        self.retry_at: str | None = None

    @property
    def may_have_been_processed(self) -> bool:
        """Can the service have acted on the request (created something) despite this error?"""
        return True

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.message}"


class APIError(UpstreamError):
    """The service answered with an error status and (usually) the documented error body."""

    default_code = "API_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        hint: str | None = None,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, code=code, status=status, hint=hint)
        self.details = details or []
        self.request_id = request_id
        self.body = body

    @property
    def may_have_been_processed(self) -> bool:
        # A 4xx is a refusal; a 5xx may come from a gateway after the service acted.
        return self.status is None or self.status >= 500


class InvalidInputError(APIError):
    default_code = "INVALID_INPUT"

    def __str__(self) -> str:
        base = super().__str__()
        if not self.details:
            return base
        parts = []
        for item in self.details:
            path = ".".join(str(p) for p in item.get("path", [])) or "(body)"
            parts.append(f"{path}: {item.get('message', item.get('code', 'invalid'))}")
        return f"{base} ({'; '.join(parts)})"


class AuthenticationError(APIError):
    default_code = "UNAUTHORIZED"


class PermissionDeniedError(APIError):
    default_code = "FORBIDDEN"


class NotFoundError(APIError):
    default_code = "NOT_FOUND"


class RateLimitError(APIError):
    default_code = "RATE_LIMIT_EXCEEDED"


class ServerError(APIError):
    default_code = "INTERNAL_ERROR"


class _NoAnswer(UpstreamError):
    """No answer came; ``sent`` is False only when the request certainly never left."""

    def __init__(self, message: str, *, sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.sent = sent

    @property
    def may_have_been_processed(self) -> bool:
        return self.sent


class UpstreamConnectionError(_NoAnswer):
    default_code = "CONNECTION_ERROR"
    default_hint = "Could not reach TinyFish; check the network (or TINYFISH_BASE_URL) and try again."


class UpstreamTimeoutError(_NoAnswer):
    default_code = "TIMEOUT"
    default_hint = "TinyFish did not answer in time; try again in a minute."


class DeadlineExceededError(UpstreamTimeoutError):
    default_code = "DEADLINE_EXCEEDED"
    default_hint = "TinyFish did not answer within this call's deadline; try again in a minute."


class UpstreamProtocolError(UpstreamError):
    default_code = "PROTOCOL_ERROR"
    default_hint = "TinyFish sent an answer this version cannot read; upgrade tinyfish-mcp or report it."


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    402: PermissionDeniedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: InvalidInputError,
    429: RateLimitError,
}


def error_from_response(status: int, body: Any, *, request_id: str | None = None) -> APIError:
    """Build the typed error for an error response from its status and decoded body.

    ``body`` is the decoded JSON (or the raw text when it was not JSON). The documented
    shape is ``{"error": {"code", "message", "details"?}}``; anything else still gives a
    useful error named after the status.
    """
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    code: str | None = None
    message = f"HTTP {status}"
    details: list[dict[str, Any]] | None = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        raw_code = err.get("code")
        code = raw_code if isinstance(raw_code, str) else None
        raw_message = err.get("message")
        if isinstance(raw_message, str) and raw_message:
            message = raw_message
        raw_details = err.get("details")
        if isinstance(raw_details, list):
            details = [d for d in raw_details if isinstance(d, dict)]
    elif isinstance(err, str):
        message = err
    elif isinstance(body, str) and body.strip():
        message = body.strip()[:300]
    if code == "INSUFFICIENT_CREDITS":
        cls = PermissionDeniedError
    return cls(message, code=code, status=status, details=details, request_id=request_id, body=body)
