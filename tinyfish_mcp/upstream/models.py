"""Pydantic models of every TinyFish payload: requests we send and responses we read.

Request models validate before anything is sent, with messages that say how to fix
the input. Response models are forward compatible: unknown fields are accepted and
kept (``extra="allow"``), and enums the service may grow are plain strings.

Wire shapes come from the API documents and the official ``tinyfish`` SDK. Three
shapes are not documented field by field (run-batch, runs/batch, runs/batch/cancel);
the ones here are our reading of the endpoint descriptions, and the emulator serves
the same.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PROXY_COUNTRIES",
    "TERMINAL_STATUSES",
    "AgentConfig",
    "AsyncRunResponse",
    "BatchRunResponse",
    "BrowserPage",
    "BrowserSession",
    "BrowserSessionRequest",
    "CancelBatchResponse",
    "CancelResult",
    "CaptureConfig",
    "CompleteEvent",
    "FetchError",
    "FetchProxyConfig",
    "FetchRequest",
    "FetchResponse",
    "FetchResult",
    "HeartbeatEvent",
    "ListRunsParams",
    "Pagination",
    "ProgressEvent",
    "ProxyConfig",
    "Run",
    "RunBatchRequest",
    "RunError",
    "RunEvent",
    "RunList",
    "RunRequest",
    "RunStep",
    "RunsBatchResponse",
    "SearchParams",
    "SearchResponse",
    "SearchResult",
    "StartedEvent",
    "StreamingUrlEvent",
    "SyncRunResponse",
    "UnknownEvent",
    "UsageResponse",
    "VaultConnection",
    "VaultConnectionList",
    "VaultItem",
    "VaultItemList",
    "parse_event",
]

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


# --------------------------------------------------------------------------- runs: requests


class ProxyConfig(_Request):
    """Proxy routing for a run."""

    enabled: bool = True
    type: Literal["tetra", "custom"] | None = None
    country_code: ProxyCountry | None = None
    url: str | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _custom_needs_url(self) -> ProxyConfig:
        if self.type == "custom":
            if not self.url:
                raise ValueError("proxy_config.url is required when proxy_config.type is 'custom'")
            _require_http_url(self.url, "proxy_config.url")
        return self


class AgentConfig(_Request):
    """Agent behaviour limits (sent by the official SDK; not in the public documents)."""

    mode: Literal["default", "strict"] | None = None
    max_steps: int | None = Field(default=None, ge=1, le=500)
    max_duration_seconds: int | None = Field(default=None, ge=1)


class CaptureConfig(_Request):
    """Which artifacts the run records."""

    elements: bool | None = None
    snapshots: bool | None = None
    screenshots: bool | None = None
    recording: bool | None = None
    html: bool | None = None


class RunRequest(_Request):
    """The body of /run, /run-async and /run-sse, and one item of /run-batch."""

    url: str
    goal: str = Field(min_length=1)
    browser_profile: Literal["lite", "stealth"] | None = None
    proxy_config: ProxyConfig | None = None
    output_schema: dict[str, Any] | None = None
    agent_config: AgentConfig | None = None
    capture_config: CaptureConfig | None = None
    webhook_url: str | None = None
    use_vault: bool | None = None
    credential_item_ids: list[str] | None = None
    use_profile: bool | None = None
    profile_id: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _require_http_url(value, "url")

    @field_validator("goal")
    @classmethod
    def _goal(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("goal must not be blank")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return None if value is None else _require_http_url(value, "webhook_url", https_only=True)

    @model_validator(mode="after")
    def _dependent_fields(self) -> RunRequest:
        if self.credential_item_ids is not None and self.use_vault is not True:
            raise ValueError("credential_item_ids requires use_vault=true")
        if self.profile_id is not None and self.use_profile is not True:
            raise ValueError("profile_id requires use_profile=true")
        return self


class RunBatchRequest(_Request):
    """The body of /run-batch: 1 to 100 runs, created all or nothing."""

    runs: list[RunRequest] = Field(min_length=1, max_length=100)


class ListRunsParams(_Request):
    """Query parameters of GET /v1/runs."""

    status: RunStatus | None = None
    goal: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    sort_direction: Literal["asc", "desc"] | None = None
    cursor: str | None = None
    limit: int | None = Field(default=None, ge=1, le=100)


# --------------------------------------------------------------------------- runs: responses


class RunError(_Response):
    """Why a run failed (or why run creation failed)."""

    code: str | None = None
    message: str = ""
    category: str | None = None  # SYSTEM_FAILURE | AGENT_FAILURE | BILLING_FAILURE | UNKNOWN
    retry_after: float | None = None
    help_url: str | None = None
    help_message: str | None = None


class RunStep(_Response):
    id: str | None = None
    timestamp: str | None = None
    status: str | None = None
    action: str | None = None
    screenshot: str | None = None
    duration: str | None = None


class Run(_Response):
    """GET /v1/runs/{id}; also the rows of a list and of a batch get."""

    run_id: str
    status: str
    goal: str | None = None
    url: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    num_of_steps: int | None = None
    result: Any = None
    error: RunError | None = None
    streaming_url: str | None = None
    browser_config: dict[str, Any] | None = None
    video_url: str | None = None
    output_schema: dict[str, Any] | None = None
    steps: list[RunStep] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class SyncRunResponse(_Response):
    """POST /v1/automation/run."""

    run_id: str | None = None
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    num_of_steps: int | None = None
    result: Any = None
    error: RunError | None = None


class AsyncRunResponse(_Response):
    """POST /v1/automation/run-async."""

    run_id: str | None = None
    error: RunError | None = None


class BatchRunResponse(_Response):
    """POST /v1/automation/run-batch: the created ids, in request order."""

    run_ids: list[str] = Field(default_factory=list)
    error: RunError | None = None


class Pagination(_Response):
    total: int = 0
    next_cursor: str | None = None
    has_more: bool = False


class RunList(_Response):
    """GET /v1/runs."""

    data: list[Run] = Field(default_factory=list)
    pagination: Pagination = Field(default_factory=Pagination)


class RunsBatchResponse(_Response):
    """POST /v1/runs/batch: found runs and the ids that were not found (or not owned)."""

    data: list[Run] = Field(default_factory=list)
    not_found: list[str] = Field(default_factory=list)


class CancelResult(_Response):
    """POST /v1/runs/{id}/cancel: the status after the attempt (idempotent)."""

    run_id: str
    status: str
    cancelled_at: str | None = None
    message: str | None = None


class CancelBatchResponse(_Response):
    """POST /v1/runs/batch/cancel: one result per found id, plus the ids not found."""

    data: list[CancelResult] = Field(default_factory=list)
    not_found: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- SSE events


class _Event(_Response):
    type: str
    timestamp: str | None = None


class StartedEvent(_Event):
    type: Literal["STARTED"]
    run_id: str


class StreamingUrlEvent(_Event):
    type: Literal["STREAMING_URL"]
    run_id: str | None = None
    streaming_url: str


class ProgressEvent(_Event):
    type: Literal["PROGRESS"]
    run_id: str | None = None
    purpose: str = ""


class HeartbeatEvent(_Event):
    type: Literal["HEARTBEAT"]


class CompleteEvent(_Event):
    type: Literal["COMPLETE"]
    run_id: str | None = None
    status: str
    result: Any = None
    error: RunError | None = None
    help_url: str | None = None
    help_message: str | None = None


class UnknownEvent(_Event):
    """An event type this version does not know; passed through, never fatal."""

    data: dict[str, Any] = Field(default_factory=dict)


RunEvent = StartedEvent | StreamingUrlEvent | ProgressEvent | HeartbeatEvent | CompleteEvent | UnknownEvent

_EVENT_TYPES: dict[str, type[_Event]] = {
    "STARTED": StartedEvent,
    "STREAMING_URL": StreamingUrlEvent,
    "PROGRESS": ProgressEvent,
    "HEARTBEAT": HeartbeatEvent,
    "COMPLETE": CompleteEvent,
}


def parse_event(data: dict[str, Any]) -> RunEvent:
    """Turn one decoded SSE ``data:`` object into a typed event.

    The live service has been seen sending camelCase ids (``runId``), which the SDK also
    accepts, so both spellings are read. Unknown types become :class:`UnknownEvent`.
    """
    data = dict(data)
    for camel, snake in (("runId", "run_id"), ("streamingUrl", "streaming_url")):
        if camel in data and snake not in data:
            data[snake] = data.pop(camel)
    kind = str(data.get("type", ""))
    model = _EVENT_TYPES.get(kind)
    if model is None:
        return UnknownEvent(type=kind or "UNKNOWN", timestamp=data.get("timestamp"), data=data)
    return model.model_validate(data)  # type: ignore[return-value]


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


class BrowserSessionRequest(_Request):
    """POST /v1/browser."""

    url: str | None = None
    timeout_seconds: int | None = Field(default=None, ge=5, le=86400)


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
