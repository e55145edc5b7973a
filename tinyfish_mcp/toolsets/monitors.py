"""The 'monitors' toolset: the hosted server's monitor tools, with its names and arguments.

``create_monitor(type, config, schedule_cron, purpose?, name?, webhook_url?)`` returns the
baseline check; ``list_monitors``, ``get_monitor``, ``run_monitor``, ``pause_monitor``,
``resume_monitor`` and ``cancel_monitor`` take a ``monitor_id``. Every completed check is
billed (the baseline too), so the schedule's cost is stated before and after creating one.
Scheduled results go only to the webhook: ``run_monitor`` is the one way to see a check here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from ..pipeline.catalog import Catalog
from ..runtime.annotations import CHANGES, CREATES, DESTRUCTIVE, READ_ONLY
from ..runtime.bounds import clip
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, shown_id, upstream_call
from ..runtime.schema import OutputModel, as_tool_result
from ..upstream.monitors import (
    FetchMonitorRun,
    Monitor,
    MonitorCreateRequest,
    MonitorRun,
    monitor_config,
)
from ._cron import checks_per_day
from ._owned_lists import owned_key

__all__ = [
    "CHECK_PRICE_USD",
    "CheckResult",
    "MonitorInfo",
    "MonitorRows",
    "MonitorTools",
    "register",
    "schedule_cost",
]

CHECK_PRICE_USD = 0.005
FIND = "list_monitors shows your monitors"

CREATE = (
    "Watch a page (type 'fetch', config {url, format?, links?, image_links?}) or a web topic "
    "(type 'search', config {query, recency_minutes?, result_limit? 1-10}) on a five-field cron "
    "schedule (UTC; prefix 'CRON_TZ=<zone> ' for local time). Each completed check costs $0.005, "
    "the baseline too: tell the user the schedule and its cost first (hourly = 24 checks, about "
    "$0.12/day). Returns the baseline. Scheduled results go only to webhook_url."
)
RUN = "Check a monitor once now and return the result (billed like any check)."
LIST = "Your monitors: id, type, target, schedule and status."
GET = (
    "A monitor's config, schedule, cost, status and last_error (relay it when status is "
    "failed). It has no check results: run_monitor checks now."
)
PAUSE = "Stop a monitor's schedule (no checks, no cost) until resume_monitor."
RESUME = "Restart a paused monitor's schedule (its checks are billed again)."
CANCEL = "Delete a monitor and its schedule. Only when the user explicitly asks."
IdArg = Annotated[str, Field(description="id from list_monitors")]


class MonitorInfo(OutputModel):
    monitor_id: str
    name: str | None = None
    type: str
    target: str
    schedule_cron: str
    status: str
    last_error: str | None = None
    webhook_url: str | None = None
    purpose: str | None = None
    config: dict[str, Any] | None = None
    created_at: str | None = None
    cost: str | None = None


class MonitorRows(OutputModel):
    monitors: list[MonitorInfo]


class SearchHit(OutputModel):
    position: int
    title: str
    url: str
    snippet: str | None = None
    new: bool


class PageCheck(OutputModel):
    url: str
    title: str | None = None
    text: str
    truncated: bool | None = None


class CheckResult(OutputModel):
    check_id: str
    is_baseline: bool | None = None
    results: list[SearchHit] | None = None
    new_results: int | None = None
    pages: list[PageCheck] | None = None
    errors: list[str] | None = None
    note: str | None = None


class CreatedMonitor(OutputModel):
    monitor: MonitorInfo
    baseline: CheckResult


class MonitorStatus(OutputModel):
    monitor_id: str
    status: str
    deleted: bool | None = None


def schedule_cost(schedule_cron: str) -> str | None:
    """The schedule's checks per day and their price, or None when the cron cannot be read."""
    per_day = checks_per_day(schedule_cron)
    if per_day is None:
        return None
    return (
        f"{per_day:g} checks a day at ${CHECK_PRICE_USD} each: about ${per_day * CHECK_PRICE_USD:.2f}/day "
        f"(${per_day * CHECK_PRICE_USD * 30:.2f}/month), billed only for completed checks."
    )


def _target(monitor: Monitor) -> str:
    config = monitor.config
    return str(config.get("url") or config.get("query") or "")


def monitor_info(monitor: Monitor, *, detail: bool = False) -> MonitorInfo:
    return MonitorInfo(
        monitor_id=monitor.id,
        name=monitor.name,
        type=monitor.type,
        target=_target(monitor),
        schedule_cron=monitor.schedule_cron,
        status=monitor.status,
        last_error=monitor.last_error,
        webhook_url=monitor.webhook_url if detail else None,
        purpose=monitor.purpose if detail else None,
        config=monitor.config if detail else None,
        created_at=monitor.created_at if detail else None,
        cost=schedule_cost(monitor.schedule_cron) if detail else None,
    )


def _page_text(text: Any) -> str:
    if isinstance(text, str):
        return text
    import json

    return json.dumps(text, ensure_ascii=False, separators=(",", ":"))


def check_result(run: MonitorRun, budget: int) -> CheckResult:
    """One check as the model reads it; page texts share ``budget`` characters."""
    if isinstance(run, FetchMonitorRun):
        share = max(500, budget // max(1, len(run.results)))
        pages = []
        for page in run.results:
            text, rest = clip(_page_text(page.text), share)
            pages.append(
                PageCheck(url=page.url, title=page.title, text=text, truncated=True if rest else None)
            )
        clipped = any(p.truncated for p in pages)
        return CheckResult(
            check_id=run.id,
            is_baseline=run.is_baseline,
            pages=pages,
            errors=[f"{e.url}: {e.error}" for e in run.errors] or None,
            note="Page text was clipped to bound the result; read the whole page with fetch_content."
            if clipped
            else None,
        )
    new = set(run.new_result_positions)
    hits = [
        SearchHit(
            position=r.position, title=r.title, url=r.url, snippet=r.snippet or None, new=r.position in new
        )
        for r in run.results
    ]
    note = None
    if run.status_code >= 400:
        note = f"The search of this check failed with HTTP {run.status_code}; the check is not billed."
    return CheckResult(check_id=run.id, results=hits, new_results=len(new), note=note)


class MonitorTools:
    """The monitor toolset's tools, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.budget = deps.settings.mcp_max_result_chars

    async def create_monitor(
        self,
        type: Literal["search", "fetch"],
        config: dict[str, Any],
        schedule_cron: str,
        purpose: Annotated[str | None, Field(description="the change that matters, in plain words")] = None,
        name: str | None = None,
        webhook_url: Annotated[
            str | None, Field(description="https URL receiving each scheduled check")
        ] = None,
    ) -> Annotated[CallToolResult, CreatedMonitor]:
        try:
            parsed = monitor_config(type, config)
        except ValidationError as exc:
            raise invalid_input(exc, what=f"config of a {type} monitor") from None
        try:
            request = MonitorCreateRequest(
                type=type,
                config=parsed,
                schedule_cron=schedule_cron,
                name=name,
                webhook_url=webhook_url,
                purpose=purpose,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from None
        key = await self.deps.resolve_key()
        created = await upstream_call(
            "creating the monitor (it may exist already: check list_monitors before retrying)",
            self.deps.client.monitors.create(key, request),
            find=FIND,
        )
        await self.deps.record_owned(key, "monitor", [created.monitor.id])
        return as_tool_result(
            CreatedMonitor(
                monitor=monitor_info(created.monitor, detail=True),
                baseline=check_result(created.run, self.budget),
            )
        )

    async def list_monitors(self) -> Annotated[CallToolResult, MonitorRows]:
        key = await self.deps.resolve_key()
        listed = await upstream_call("listing monitors", self.deps.client.monitors.list(key))
        monitors = listed.monitors
        if self.deps.ownership is not None:
            # The list is whole (no paging upstream): keep the caller's own.
            mine, _ = await self.deps.ownership.split(key, "monitor", [m.id for m in monitors])
            kept = set(mine)
            monitors = [m for m in monitors if m.id in kept]
        return as_tool_result(MonitorRows(monitors=[monitor_info(m) for m in monitors[:200]]))

    async def get_monitor(self, monitor_id: IdArg) -> Annotated[CallToolResult, MonitorInfo]:
        key = await self._owned_key(monitor_id)
        monitor = await upstream_call(
            f"reading monitor {shown_id(monitor_id)}",
            self.deps.client.monitors.get(key, monitor_id),
            find=FIND,
        )
        return as_tool_result(monitor_info(monitor, detail=True))

    async def run_monitor(self, monitor_id: IdArg) -> Annotated[CallToolResult, CheckResult]:
        key = await self._owned_key(monitor_id)
        ran = await upstream_call(
            f"checking monitor {shown_id(monitor_id)} (do not retry at once: a check may have run)",
            self.deps.client.monitors.run(key, monitor_id),
            find=FIND,
        )
        return as_tool_result(check_result(ran.run, self.budget))

    async def pause_monitor(self, monitor_id: IdArg) -> Annotated[CallToolResult, MonitorStatus]:
        return await self._set(monitor_id, "paused", "pausing")

    async def resume_monitor(self, monitor_id: IdArg) -> Annotated[CallToolResult, MonitorStatus]:
        return await self._set(monitor_id, "active", "resuming")

    async def cancel_monitor(self, monitor_id: IdArg) -> Annotated[CallToolResult, MonitorStatus]:
        key = await self._owned_key(monitor_id)
        deleted = await upstream_call(
            f"deleting monitor {shown_id(monitor_id)}",
            self.deps.client.monitors.cancel(key, monitor_id),
            find=FIND,
        )
        if not deleted.deleted:
            raise ToolError(
                f"TinyFish did not delete monitor {shown_id(monitor_id)}; check it with get_monitor."
            )
        return as_tool_result(MonitorStatus(monitor_id=deleted.id, status="cancelled", deleted=True))

    async def _set(self, monitor_id: str, status: Literal["paused", "active"], verb: str) -> CallToolResult:
        key = await self._owned_key(monitor_id)
        monitor = await upstream_call(
            f"{verb} monitor {shown_id(monitor_id)}",
            self.deps.client.monitors.set_status(key, monitor_id, status),
            find=FIND,
        )
        return as_tool_result(MonitorStatus(monitor_id=monitor.id, status=monitor.status))

    async def _owned_key(self, monitor_id: str) -> str:
        """The caller's key, once the monitor is known to be theirs (not found otherwise)."""
        action = f"reading monitor {shown_id(monitor_id)}"
        return await owned_key(self.deps, "monitor", monitor_id, action=action, find=FIND)


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the seven monitor tools on ``mcp``."""
    tools = MonitorTools(deps)
    mcp.tool(description=CREATE, annotations=CREATES)(tools.create_monitor)
    mcp.tool(description=LIST, annotations=READ_ONLY)(tools.list_monitors)
    mcp.tool(description=GET, annotations=READ_ONLY)(tools.get_monitor)
    mcp.tool(description=RUN, annotations=CREATES)(tools.run_monitor)
    mcp.tool(description=PAUSE, annotations=CHANGES)(tools.pause_monitor)
    mcp.tool(description=RESUME, annotations=CHANGES)(tools.resume_monitor)
    mcp.tool(description=CANCEL, annotations=DESTRUCTIVE)(tools.cancel_monitor)
