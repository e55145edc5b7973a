"""Fetch, search, browser sessions, usage and vault payloads."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..constants import MAX_SELECTORS, PER_URL_TIMEOUT_MS, SEARCH_MAX_PAGE, SEARCH_RECENCY_MAX_MINUTES
from ._base import ProxyCountry, _Request, _require_http_url, _Response
from .runs import Pagination

# --------------------------------------------------------------------------- fetch

PURPOSE_MAX_CHARS = 2000


def _purpose(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("purpose must not be blank: leave it out or say why in a sentence")
    return value


class FetchProxyConfig(_Request):
    country_code: ProxyCountry


class FetchHighlights(_Request):
    """Query-ranked snippets of each page instead of (or besides) its whole text."""

    query: str = Field(min_length=1)
    max_snippets: int | None = Field(default=None, ge=1, le=20)
    max_characters: int | None = Field(default=None, ge=1)
    include_full_page_text: bool | None = None

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("highlights.query must not be blank")
        return value


class FetchRequest(_Request):
    """POST /v1/fetch: up to 10 URLs rendered and extracted.

    ``proxy_config``, ``include_selectors`` and ``exclude_selectors`` are accepted by the
    API (documents, hosted tool) though the SDK does not send them.
    """

    urls: list[str] = Field(min_length=1, max_length=10)
    purpose: str | None = Field(default=None, max_length=PURPOSE_MAX_CHARS)
    format: Literal["markdown", "html", "json"] | None = None
    include_html_head: bool | None = None
    page_metadata: bool | None = None
    links: bool | None = None
    image_links: bool | None = None
    ttl: int | None = Field(default=None, ge=0)
    per_url_timeout_ms: int | None = Field(default=None, ge=PER_URL_TIMEOUT_MS[0], le=PER_URL_TIMEOUT_MS[1])
    if_none_match: str | None = None
    if_modified_since: str | None = None
    include_etag_and_last_modified: bool | None = None
    highlights: FetchHighlights | None = None
    include_selectors: list[str] | None = Field(default=None, min_length=1, max_length=MAX_SELECTORS)
    exclude_selectors: list[str] | None = Field(default=None, min_length=1, max_length=MAX_SELECTORS)
    proxy_config: FetchProxyConfig | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_require_http_url(url, f"urls[{i}]") for i, url in enumerate(value)]

    _check_purpose = field_validator("purpose")(_purpose)

    @field_validator("include_selectors", "exclude_selectors")
    @classmethod
    def _selectors(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not s.strip() for s in value):
            raise ValueError("a CSS selector must not be blank")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> FetchRequest:
        if len(self.urls) > 1:
            for name in ("if_none_match", "if_modified_since"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} works with a single URL only: fetch that URL on its own")
        if self.highlights is not None and self.format not in (None, "markdown"):
            raise ValueError("highlights need format 'markdown' (or leave format out)")
        return self


class HighlightSnippet(_Response):
    text: str
    rank: int


class FetchResult(_Response):
    url: str
    final_url: str | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None
    author: str | None = None
    published_date: str | None = None
    text: Any = None  # a string; older services sent a document tree for json
    format: str | None = None
    links: list[str] = Field(default_factory=list)
    image_links: list[str] = Field(default_factory=list)
    latency_ms: float | None = None
    not_modified: bool | None = None
    etag: str | None = None
    last_modified: str | None = None
    conditional_unsupported: bool | None = None
    highlights: list[HighlightSnippet] | None = None
    unmatched_selectors: list[str] | None = None
    page_metadata: dict[str, Any] | None = None


class FetchError(_Response):
    url: str
    error: str
    unmatched_selectors: list[str] | None = None
    candidate_selectors: list[str] | None = None


class FetchResponse(_Response):
    results: list[FetchResult] = Field(default_factory=list)
    errors: list[FetchError] = Field(default_factory=list)


# --------------------------------------------------------------------------- search


def _iso_day(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        _dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD (got {value!r})") from None
    return value


class SearchParams(_Request):
    """Query parameters of GET /v1/search, checked as the SDK checks them."""

    query: str = Field(min_length=1)
    purpose: str | None = Field(default=None, max_length=PURPOSE_MAX_CHARS)
    location: str | None = None
    language: str | None = None
    include_domains: str | None = None
    exclude_domains: str | None = None
    after_date: str | None = None
    before_date: str | None = None
    recency_minutes: int | None = Field(default=None, ge=1, le=SEARCH_RECENCY_MAX_MINUTES)
    domain_type: Literal["web", "news", "research_paper"] | None = None
    pub_year_min: int | None = Field(default=None, ge=0, le=9999)
    pub_year_max: int | None = Field(default=None, ge=0, le=9999)
    include_thumbnail: bool | None = None
    page: int | None = Field(default=None, ge=0, le=SEARCH_MAX_PAGE)

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must not be blank")
        return value

    _check_purpose = field_validator("purpose")(_purpose)

    @field_validator("after_date", "before_date")
    @classmethod
    def _dates(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _iso_day(value, str(info.field_name))

    @model_validator(mode="after")
    def _combinations(self) -> SearchParams:
        window = self.after_date is not None or self.before_date is not None
        if self.recency_minutes is not None and window:
            raise ValueError("recency_minutes cannot be combined with after_date or before_date: use one")
        if self.after_date and self.before_date and self.after_date > self.before_date:
            raise ValueError("after_date must be on or before before_date")
        if self.domain_type == "research_paper" and (window or self.recency_minutes is not None):
            raise ValueError(
                "research_paper searches take no date filter: use pub_year_min / pub_year_max instead"
            )
        low, high = self.pub_year_min, self.pub_year_max
        if (low is not None or high is not None) and self.domain_type != "research_paper":
            raise ValueError("pub_year_min / pub_year_max work only with domain_type='research_paper'")
        if low is not None and high is not None and low > high:
            raise ValueError("pub_year_min must be less than or equal to pub_year_max")
        return self

    def to_body(self) -> dict[str, Any]:
        """Query strings as the SDK sends them: publication years as four digits."""
        body = super().to_body()
        for name in ("pub_year_min", "pub_year_max"):
            if name in body:
                body[name] = f"{body[name]:04d}"
        for name in ("recency_minutes", "page"):
            if name in body:
                body[name] = str(body[name])
        if "include_thumbnail" in body:
            body["include_thumbnail"] = "true" if body["include_thumbnail"] else "false"
        return body


class SearchResult(_Response):
    position: int
    title: str
    url: str
    snippet: str = ""
    site_name: str | None = None
    date: str | None = None
    publisher: str | None = None
    authors: list[str] | None = None
    venue: str | None = None
    year: int | None = None
    cited_by_count: int | None = None
    pdf_url: str | None = None
    thumbnail: str | None = None


class SearchResponse(_Response):
    query: str
    results: list[SearchResult] = Field(default_factory=list)
    total_results: int = 0
    page: int = 0
    location: str | None = None
    language: str | None = None


# --------------------------------------------------------------------------- browser


class BrowserProxyConfig(_Request):
    """How a browser session reaches the internet (the official SDK's ``BrowserProxyConfig``).

    Omitted: the TinyFish residential proxy in the US, one exit IP per session.
    """

    enabled: bool = True
    type: Literal["tinyfish", "custom"] | None = None
    country_code: str | None = Field(default=None, min_length=2, max_length=2)
    url: str | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _custom_needs_url(self) -> BrowserProxyConfig:
        if self.type == "custom" and self.enabled:
            if not self.url:
                raise ValueError("proxy_config.url is required when proxy_config.type is 'custom'")
            _require_http_url(self.url, "proxy_config.url")
        return self


class BrowserSessionRequest(_Request):
    """POST /v1/browser."""

    url: str | None = None
    timeout_seconds: int | None = Field(default=None, ge=5, le=86400)
    proxy_config: BrowserProxyConfig | None = None


class BrowserSession(_Response):
    session_id: str
    cdp_url: str
    base_url: str


class BrowserPage(_Response):
    """One target of GET {base_url}/pages (the Chrome DevTools /json list shape)."""

    id: str | None = None
    type: str | None = None
    title: str | None = None
    url: str = ""
    devtoolsFrontendUrl: str | None = None  # the wire name
    webSocketDebuggerUrl: str | None = None  # the wire name


# --------------------------------------------------------------------------- usage and vault


class UsageResponse(_Response):
    """GET /v1/browser/usage and /v1/search/usage: records plus pagination, kept as sent."""

    data: list[dict[str, Any]] = Field(default_factory=list)
    pagination: Pagination | None = None


class VaultItem(_Response):
    item_id: str = Field(alias="itemId")
    connection_id: str | None = Field(default=None, alias="connectionId")
    label: str = ""
    vault_name: str | None = Field(default=None, alias="vaultName")
    domains: list[str] = Field(default_factory=list)
    has_totp: bool = Field(default=False, alias="hasTotp")


class VaultItemList(_Response):
    items: list[VaultItem] = Field(default_factory=list)


class VaultConnection(_Response):
    id: str
    provider: str
    connection_status: str | None = Field(default=None, alias="connectionStatus")
    last_validated_at: str | None = Field(default=None, alias="lastValidatedAt")


class VaultConnectionList(_Response):
    connections: list[VaultConnection] = Field(default_factory=list)
