"""The Monitors API (``/v1/monitors``): a search or a fetch re-run on a cron schedule.

Shapes follow the official SDK's ``tinyfish.monitors.types``. Creating a monitor runs its
baseline check at once (billed), so a create is never re-sent blindly; pause and resume
are a PATCH of ``status``; ``cancel`` deletes the monitor and its schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from .constants import RequestKind
from .errors import InvalidInputError
from .models import FetchError, FetchResult, SearchResult
from .models._base import _Request, _require_http_url, _Response

if TYPE_CHECKING:
    from .core import RoutedCore

__all__ = [
    "FetchMonitorConfig",
    "FetchMonitorRun",
    "Monitor",
    "MonitorCreateRequest",
    "MonitorCreated",
    "MonitorDeleted",
    "MonitorList",
    "MonitorRun",
    "MonitorRunResponse",
    "MonitorsAPI",
    "SearchMonitorConfig",
    "SearchMonitorRun",
    "monitor_config",
]

MonitorType = Literal["search", "fetch"]
MAX_RESULT_LIMIT = 10


class SearchMonitorConfig(_Request):
    """What a search monitor repeats."""

    query: str = Field(min_length=1, max_length=500)
    recency_minutes: int | None = Field(default=None, ge=1)
    result_limit: int | None = Field(default=None, ge=1, le=MAX_RESULT_LIMIT)


class FetchMonitorConfig(_Request):
    """Which public page a fetch monitor watches, and how it is extracted."""

    url: str
    format: Literal["markdown", "html", "json"] | None = None
    links: bool | None = None
    image_links: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _require_http_url(value, "url")


_CONFIGS: dict[str, type[SearchMonitorConfig] | type[FetchMonitorConfig]] = {
    "search": SearchMonitorConfig,
    "fetch": FetchMonitorConfig,
}


def monitor_config(type: str, config: dict[str, Any]) -> SearchMonitorConfig | FetchMonitorConfig:
    """``config`` checked against ``type``; raises ``ValidationError`` (paths under ``config``)."""
    return _CONFIGS[type].model_validate(config)


class MonitorCreateRequest(_Request):
    """POST /v1/monitors."""

    type: MonitorType
    config: SearchMonitorConfig | FetchMonitorConfig
    schedule_cron: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    webhook_url: str | None = None
    purpose: str | None = Field(default=None, max_length=2000)

    @field_validator("schedule_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        fields = value.split(" ")
        if fields and fields[0].startswith("CRON_TZ="):
            fields = fields[1:]
        if len(fields) != 5:
            raise ValueError(
                "schedule_cron must have five fields (minute hour day month weekday), "
                "optionally after CRON_TZ=<IANA zone>, e.g. '0 9 * * *'"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return None if value is None else _require_http_url(value, "webhook_url", https_only=True)


class Monitor(_Response):
    id: str
    name: str | None = None
    type: str
    config: dict[str, Any] = Field(default_factory=dict)
    schedule_cron: str
    status: str
    last_error: str | None = None
    webhook_url: str | None = None
    purpose: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class SearchMonitorRun(_Response):
    id: str
    request_id: str | None = None
    query: str
    status_code: int
    result_count: int | None = None
    results: list[SearchResult] = Field(default_factory=list)
    new_result_positions: list[int] = Field(default_factory=list)
    created_at: str | None = None


class FetchMonitorRun(_Response):
    id: str
    is_baseline: bool
    results: list[FetchResult] = Field(default_factory=list)
    errors: list[FetchError] = Field(default_factory=list)


MonitorRun = SearchMonitorRun | FetchMonitorRun


class MonitorCreated(_Response):
    monitor: Monitor
    run: MonitorRun


class MonitorList(_Response):
    monitors: list[Monitor] = Field(default_factory=list)


class MonitorRunResponse(_Response):
    run: MonitorRun


class MonitorDeleted(_Response):
    deleted: bool
    id: str


def _path(monitor_id: str, suffix: str = "") -> str:
    if not monitor_id or not monitor_id.strip():
        raise InvalidInputError(
            "monitor_id must not be empty", details=[{"path": ["monitor_id"], "message": "empty"}]
        )
    return f"/{quote(monitor_id.strip(), safe='')}{suffix}"


class MonitorsAPI:
    """``client.monitors``."""

    def __init__(self, core: RoutedCore) -> None:
        self._core = core

    async def create(self, key: str, request: MonitorCreateRequest) -> MonitorCreated:
        """POST /v1/monitors: creates it and runs the (billed) baseline. Never re-sent blindly."""
        return await self._core.call(
            MonitorCreated, "POST", "monitors", key=key, kind=RequestKind.CREATE, json=request.to_body()
        )

    async def list(self, key: str) -> MonitorList:
        return await self._core.call(MonitorList, "GET", "monitors", key=key)

    async def get(self, key: str, monitor_id: str) -> Monitor:
        return await self._core.call(Monitor, "GET", "monitors", _path(monitor_id), key=key)

    async def set_status(self, key: str, monitor_id: str, status: Literal["paused", "active"]) -> Monitor:
        """PATCH {"status": ...}: pause or resume the schedule (idempotent)."""
        return await self._core.call(
            Monitor, "PATCH", "monitors", _path(monitor_id), key=key, json={"status": status}
        )

    async def run(self, key: str, monitor_id: str) -> MonitorRunResponse:
        """POST /v1/monitors/{id}/runs: one billed check now. Never re-sent blindly."""
        return await self._core.call(
            MonitorRunResponse,
            "POST",
            "monitors",
            _path(monitor_id, "/runs"),
            key=key,
            kind=RequestKind.CREATE,
        )

    async def cancel(self, key: str, monitor_id: str) -> MonitorDeleted:
        """DELETE /v1/monitors/{id}: the monitor and its schedule are removed."""
        return await self._core.call(MonitorDeleted, "DELETE", "monitors", _path(monitor_id), key=key)
