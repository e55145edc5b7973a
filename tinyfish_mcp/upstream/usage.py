"""The usage listings: past searches, fetches and browser sessions, filtered and paged.

``GET /v1/search/usage`` and ``GET /v1/browser/usage`` are in TinyFish's API reference
(docs.tinyfish.ai, "List search usage" / "List browser session usage"); ``GET
/v1/fetch/usage`` is called by the public Go client ``snowmerak/tinyfish-go``
(``lib/fetch_usage.go``), whose parameters (``limit`` 1-1000, 1-based ``page``,
``status``, ``start_after``, ``end_before``) and envelope (``items``, ``total``,
``page``, ``total_pages``, ``has_more``) the hosted tools' definitions repeat for all
three. The search and browser listings answer ``{data, pagination}`` (our reading, kept
from before); :class:`UsagePage` reads either envelope. Browser usage is TinyFish's only
listing of sessions: ``list_browser_sessions`` is built on it. See docs/tools.md,
"Endpoints and shapes", for what is documented and what inferred.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from .models._base import _Request, _Response

if TYPE_CHECKING:
    from .core import RoutedCore

__all__ = ["UsageAPI", "UsagePage", "UsageQuery"]

LIMIT_MAX = 1000


class UsageQuery(_Request):
    """Filters and page of one usage listing (sent as query parameters when set)."""

    limit: int | None = Field(default=None, ge=1, le=LIMIT_MAX)
    page: int | None = Field(default=None, ge=1)
    status: str | None = None
    start_after: str | None = None
    end_before: str | None = None
    session_id: str | None = None  # browser usage only
    cursor: str | None = None  # the older opaque cursor (search and browser usage)


class UsagePage(_Response):
    """One page of records, whichever envelope the listing uses."""

    records: list[dict[str, Any]] = Field(default_factory=list)
    total: int | None = None
    page: int | None = None
    total_pages: int | None = None
    has_more: bool = False
    next_cursor: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _either_envelope(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        paging: dict[str, Any] = data["pagination"] if isinstance(data.get("pagination"), dict) else data
        records = data.get("items", data.get("data", []))
        return {
            "records": records if isinstance(records, list) else [],
            "total": paging.get("total"),
            "page": paging.get("page"),
            "total_pages": paging.get("total_pages"),
            "has_more": bool(paging.get("has_more")),
            "next_cursor": paging.get("next_cursor"),
        }


class UsageAPI:
    """``client.usage``: read only."""

    def __init__(self, core: RoutedCore) -> None:
        self._core = core

    async def list(
        self, key: str, kind: Literal["search", "fetch", "browser"], query: UsageQuery
    ) -> UsagePage:
        """GET /v1/{kind}/usage with the filters that are set."""
        return await self._core.call(UsagePage, "GET", kind, "/usage", key=key, params=query.to_body())
