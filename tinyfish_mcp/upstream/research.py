"""The Research API: deep research runs, their event stream, and its resumption.

``stream`` starts a run on ``POST /v1/automation/run-research`` and yields its events;
``events`` re-attaches to a run's stream (``GET /v1/research-run/{id}/events`` with
``Last-Event-ID``). Each connection re-sends the run's saved state first (``created``,
``session``, and ``final_result`` or ``error`` once they exist), so a reader that
reconnects must drop what it already has: :class:`EventCursor` does that. A start is
never re-sent blindly (it creates a billed run). Shapes follow ``tinyfish.research``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import anyio
from pydantic import Field, ValidationError

from .constants import SSE_READ_TIMEOUT, RequestKind
from .errors import InvalidInputError, UpstreamConnectionError
from .models._base import _Request, _Response
from .models.runs import Pagination

if TYPE_CHECKING:
    import httpx2

    from .core import RoutedCore

__all__ = [
    "TERMINAL_RESEARCH",
    "EventCursor",
    "ResearchAPI",
    "ResearchCancel",
    "ResearchDomainFilter",
    "ResearchEvent",
    "ResearchEvidence",
    "ResearchList",
    "ResearchRequest",
    "ResearchRun",
    "ResearchRunDetail",
    "ResearchStarted",
]

log = logging.getLogger("tinyfish_mcp.upstream")

ResearchStatus = Literal["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]
TERMINAL_RESEARCH: frozenset[str] = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
# Re-sent from saved state on every connection: kept once per run.
ONCE_PER_RUN = frozenset({"created", "session", "final_result", "error"})


class ResearchDomainFilter(_Request):
    mode: Literal["include", "exclusive"]
    domains: list[str] | None = Field(default=None, max_length=150)
    block: list[str] | None = Field(default=None, max_length=150)


class ResearchRequest(_Request):
    """The body of run-research and run-research-async."""

    query: str = Field(min_length=1, max_length=4000)
    mode: Literal["deep", "max"] | None = None
    output_language: str | None = Field(default=None, max_length=50)
    domain_type: Literal["web", "news", "research_paper"] | None = None
    after_date: str | None = None
    before_date: str | None = None
    recency_minutes: int | None = Field(default=None, ge=1)
    weak_sources_enabled: bool | None = None
    domain_filter: ResearchDomainFilter | None = None
    prior_run_id: str | None = None


class ResearchQuickResult(_Response):
    answer: str
    citations: list[str] = Field(default_factory=list)


class ResearchReport(_Response):
    result: str
    citations: list[str] = Field(default_factory=list)
    termination_reason: str | None = None


class ResearchError(_Response):
    code: str
    message: str = ""


class ResearchSubquestion(_Response):
    id: str
    question: str
    priority: str | None = None


class ResearchPlan(_Response):
    summary: str = ""
    subquestions: list[ResearchSubquestion] = Field(default_factory=list)
    search_queries: list[str] = Field(default_factory=list)
    done: bool = False


class ResearchClaim(_Response):
    claim: str
    snippet: str = ""
    subquestion_id: str | None = None
    confidence: str | None = None


class ResearchEvidence(_Response):
    url: str
    title: str = ""
    published_date: str | None = None
    subquestions_covered: list[str] = Field(default_factory=list)
    claims: list[ResearchClaim] = Field(default_factory=list)
    source_quality: str | None = None


class ResearchRun(_Response):
    research_run_id: str
    status: str
    query: str = ""
    quick_result: ResearchQuickResult | None = None
    quick_result_summary: str | None = None
    deep_result: ResearchReport | None = None
    run_ids: list[str] = Field(default_factory=list)
    created_at: str | None = None
    completed_at: str | None = None


class ResearchRunDetail(ResearchRun):
    error: ResearchError | None = None
    research_plan: ResearchPlan | None = None
    evidence: list[ResearchEvidence] | None = None
    iterations: int | None = None


class ResearchStarted(_Response):
    research_run_id: str
    error: ResearchError | None = None


class ResearchList(_Response):
    data: list[ResearchRun] = Field(default_factory=list)
    pagination: Pagination | None = None


class ResearchCancel(_Response):
    research_run_id: str
    status: str
    cancelled: bool


class ResearchEvent(_Response):
    """One stream event: ``event`` names it; its payload varies (kept as extra fields)."""

    event: str
    research_run_id: str | None = None

    def get(self, name: str) -> Any:
        return (self.model_extra or {}).get(name)


@dataclass
class EventCursor:
    """Where a reader is in a run's stream: the id to resume after, and what not to repeat."""

    run_id: str | None = None
    last_event_id: str | None = None
    seen: set[str] = field(default_factory=set)

    def accept(self, event_id: str | None, event: ResearchEvent) -> bool:
        """Whether ``event`` is new to this reader (replayed state and old ids are not)."""
        if event_id is not None:
            if _newer(event_id, self.last_event_id) is False:
                return False
            self.last_event_id = event_id
        if event.event == "created" and event.research_run_id:
            self.run_id = event.research_run_id
        if event.event in ONCE_PER_RUN:
            if event.event in self.seen:
                return False
            self.seen.add(event.event)
        return True


def _newer(event_id: str, last: str | None) -> bool | None:
    """True/False when both ids are numbers; None (unknown: accept) otherwise."""
    if last is None:
        return True
    if event_id.isdigit() and last.isdigit():
        return int(event_id) > int(last)
    return None if event_id != last else False


def _path(run_id: str, suffix: str = "") -> str:
    if not run_id or not run_id.strip():
        raise InvalidInputError(
            "research_run_id must not be empty", details=[{"path": ["research_run_id"], "message": "empty"}]
        )
    return f"/{quote(run_id.strip(), safe='')}{suffix}"


async def iter_research_events(
    response: httpx2.Response,
) -> AsyncGenerator[tuple[str | None, ResearchEvent], None]:
    """(SSE id, event) pairs of one connection, ending after ``done``.

    A connection that ends (or breaks) before ``done`` raises ``UpstreamConnectionError``:
    the run goes on upstream, and the caller resumes it. Unreadable events are skipped.
    """
    from .sse import sse_messages

    async with aclosing(sse_messages(response, what="research stream")) as messages:
        async for sse in messages:
            try:
                data = json.loads(sse.data)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                if "event" not in data and sse.event and sse.event != "message":
                    data["event"] = sse.event
                event = ResearchEvent.model_validate(data)
            except (ValueError, ValidationError):
                log.warning("research stream: skipped an unreadable event (%d chars)", len(sse.data))
                continue
            yield (sse.id or None), event
            if event.event == "done":
                return
    raise UpstreamConnectionError("research stream: the connection ended before the done event")


class ResearchAPI:
    """``client.research``."""

    def __init__(self, core: RoutedCore) -> None:
        self._core = core

    def stream(
        self, key: str, request: ResearchRequest
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str | None, ResearchEvent]]]:
        """POST /v1/automation/run-research as ``async with ... as events``. Never re-sent blindly."""
        return self._open(key, "POST", self._core.url("automation", "/run-research"),
                          RequestKind.CREATE, json=request.to_body())  # fmt: skip

    def events(
        self, key: str, run_id: str, last_event_id: str | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str | None, ResearchEvent]]]:
        """GET /v1/research-run/{id}/events, resuming after ``last_event_id``."""
        url = self._core.url("research-run", _path(run_id, "/events"))
        headers = {"Last-Event-ID": last_event_id} if last_event_id else None
        return self._open(key, "GET", url, RequestKind.IDEMPOTENT, headers=headers)

    @asynccontextmanager
    async def _open(
        self,
        key: str,
        method: str,
        url: str,
        kind: RequestKind,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[tuple[str | None, ResearchEvent]]]:
        async with self._core.http.stream(
            method,
            url,
            key=key,
            kind=kind,
            product="research-run",
            read_timeout=SSE_READ_TIMEOUT,
            json=json,
            extra_headers=headers,
        ) as response:
            events = iter_research_events(response)
            try:
                yield events
            finally:
                with anyio.CancelScope(shield=True):
                    await events.aclose()

    async def queue(self, key: str, request: ResearchRequest) -> ResearchStarted:
        """POST /v1/automation/run-research-async. Never re-sent blindly."""
        return await self._core.call(
            ResearchStarted, "POST", "automation", "/run-research-async", key=key,
            kind=RequestKind.CREATE, json=request.to_body(),
        )  # fmt: skip

    async def get(self, key: str, run_id: str) -> ResearchRunDetail:
        return await self._core.call(ResearchRunDetail, "GET", "research-run", _path(run_id), key=key)

    async def list(self, key: str, **params: Any) -> ResearchList:
        query = {name: value for name, value in params.items() if value is not None}
        return await self._core.call(ResearchList, "GET", "research-run", key=key, params=query)

    async def cancel(self, key: str, run_id: str) -> ResearchCancel:
        """POST /v1/research-run/{id}/cancel (idempotent: a finished run says cancelled=false)."""
        return await self._core.call(
            ResearchCancel, "POST", "research-run", _path(run_id, "/cancel"), key=key
        )
