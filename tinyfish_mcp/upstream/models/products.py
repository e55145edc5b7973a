"""Fetch, search, browser sessions, usage and vault payloads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import ProxyCountry, _Request, _require_http_url, _Response
from .runs import Pagination

# --------------------------------------------------------------------------- fetch


class FetchProxyConfig(_Request):
    country_code: ProxyCountry


class FetchRequest(_Request):
    """POST /v1/fetch: up to 10 URLs rendered and extracted."""

    urls: list[str] = Field(min_length=1, max_length=10)
    format: Literal["markdown", "html", "json"] | None = None
    links: bool | None = None
    image_links: bool | None = None
    proxy_config: FetchProxyConfig | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_require_http_url(url, f"urls[{i}]") for i, url in enumerate(value)]


class FetchResult(_Response):
    url: str
    final_url: str | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None
    author: str | None = None
    published_date: str | None = None
    text: Any = None  # a string for markdown/html; a document tree for json
    format: str | None = None
    links: list[str] = Field(default_factory=list)
    image_links: list[str] = Field(default_factory=list)
    latency_ms: float | None = None


class FetchError(_Response):
    url: str
    error: str


class FetchResponse(_Response):
    results: list[FetchResult] = Field(default_factory=list)
    errors: list[FetchError] = Field(default_factory=list)


# --------------------------------------------------------------------------- search


class SearchParams(_Request):
    """Query parameters of GET /v1/search."""

    query: str = Field(min_length=1)
    location: str | None = None
    language: str | None = None
    page: int | None = Field(default=None, ge=0)

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must not be blank")
        return value


class SearchResult(_Response):
    position: int
    title: str
    url: str
    snippet: str = ""
    site_name: str | None = None
    date: str | None = None


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
