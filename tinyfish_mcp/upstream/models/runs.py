"""Runs: the request body of every run endpoint, and runs as the service reports them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import TERMINAL_STATUSES, RunStatus, _Request, _require_http_url, _Response

# How TinyFish's own integrations name themselves on a run request (the official SDK sends
# ``TF_API_INTEGRATION``; dify and n8n send their names): ours, on every run we create.
API_INTEGRATION = "tinyfish-mcp"
# An ISO 3166-1 alpha-2 country: the SDK sends any (the documents list seven common ones).
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
# --------------------------------------------------------------------------- runs: requests


class ProxyConfig(_Request):
    """Proxy routing for a run."""

    enabled: bool = True
    type: Literal["tetra", "custom"] | None = None
    country_code: CountryCode | None = None
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
    """Agent behaviour (sent by the official SDK; not in the public documents)."""

    mode: Literal["default", "strict"] | None = None
    cursor_style: Literal["fish", "standard", "green-pointer"] | None = None
    max_steps: int | None = Field(default=None, ge=1, le=500)
    max_duration_seconds: int | None = Field(default=None, ge=1)


class FeatureFlags(_Request):
    """Run features to turn on (the hosted tools' ``feature_flags``; the SDK 0.11 sends none)."""

    enable_agent_memory: bool | None = None


def api_integration_for(caller: str | None) -> str:
    """What a run says it came through: tinyfish-mcp, then the caller's own integration name, if any.

    ``tinyfish-mcp`` alone, or ``tinyfish-mcp:<caller>`` (``tinyfish-mcp:dify``): TinyFish's
    analytics still see every run of this server, and the integration behind it.
    """
    name = (caller or "").strip()
    return f"{API_INTEGRATION}:{name}" if name else API_INTEGRATION


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
    feature_flags: FeatureFlags | None = None
    webhook_url: str | None = None
    use_vault: bool | None = None
    credential_item_ids: list[str] | None = None
    use_profile: bool | None = None
    profile_id: str | None = None
    api_integration: str | None = API_INTEGRATION

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

    @field_validator("profile_id")
    @classmethod
    def _profile(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("profile_id must not be blank")
        return None if value is None else value.strip()

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
    """The body of /run-batch: 1 to 100 runs, created all or nothing.

    ``api_integration`` is sent once, beside ``runs``, as the SDK sends it on every
    ``/v1/automation/*`` body; the items do not repeat it.
    """

    runs: list[RunRequest] = Field(min_length=1, max_length=100)
    api_integration: str | None = API_INTEGRATION

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json", exclude_none=True, exclude={"runs": {"__all__": {"api_integration"}}}
        )


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
