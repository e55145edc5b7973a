"""Shared pieces of the payload models: status sets, URL checks, request and response bases."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

RunStatus = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
ProxyCountry = Literal["US", "GB", "CA", "DE", "FR", "JP", "AU"]
PROXY_COUNTRIES: tuple[str, ...] = ("US", "GB", "CA", "DE", "FR", "JP", "AU")


def _require_http_url(value: str, field: str, *, https_only: bool = False) -> str:
    """Reject anything but an absolute http(s) URL, saying what to send instead."""
    value = value.strip()
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        wanted = "an https:// URL" if https_only else "an absolute http:// or https:// URL"
        raise ValueError(f"{field} must be {wanted} (got {value!r})")
    return value


class _Request(BaseModel):
    """Requests refuse unknown fields: a typo must fail here, not silently upstream."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    def to_body(self) -> dict[str, Any]:
        """The JSON body (or query) exactly as sent: unset fields are omitted."""
        return self.model_dump(mode="json", exclude_none=True)


class _Response(BaseModel):
    """Responses keep fields we do not know yet, so new upstream fields pass through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)
