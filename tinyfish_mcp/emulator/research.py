"""The Research API: a deep research run that plans, searches, reads and reports.

``POST /v1/automation/run-research`` starts a run and streams its events; ``-async``
only starts it. A run is driven by its own task (like agent runs), so a dropped stream
never stops it. Every event has an SSE ``id`` (its sequence number); a client
reconnects with ``GET /v1/research-run/{id}/events`` and ``Last-Event-ID``, and each
connection first re-sends the run's saved state (``created``, ``session`` and, once
they exist, ``final_result`` or ``error``) before the events after that id, as the
official SDK expects (it keeps those state events once per run).

A run searches the emulator's own corpus and "reads" the top results. Test knobs in
the query text: ``tf_delay=<s>`` seconds per stage (default 0.05), ``tf_fail`` makes
the pipeline fail after planning.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from . import search
from .context import Call
from .faults import Fault
from .wire import ApiError, Issue, invalid_input, iso, issue, now, parse_iso, read_json

__all__ = ["cancel", "events", "get", "list_runs", "run_async", "run_stream"]

MODES = ("deep", "max")
DOMAIN_TYPES = ("web", "news", "research_paper")
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
STATE_EVENTS = ("created", "session")
FIELDS = {
    "query", "mode", "output_language", "domain_type", "after_date", "before_date", "recency_minutes",
    "weak_sources_enabled", "domain_filter", "prior_run_id", "session_id", "api_integration",
}  # fmt: skip
HEARTBEAT = 0.5


@dataclass
class ResearchRecord:
    research_run_id: str
    owner: str
    seq: int
    query: str
    body: dict[str, Any]
    delay: float
    fail: bool
    status: str = "QUEUED"
    created_at: datetime = field(default_factory=now)
    completed_at: datetime | None = None
    quick_result: dict[str, Any] | None = None
    deep_result: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    iterations: int = 0
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def emit(self, name: str, **data: Any) -> None:
        self.events.append((len(self.events) + 1, {"event": name, **data}))
        old, self.changed = self.changed, asyncio.Event()
        old.set()

    def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        _finish(self, "CANCELLED")

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1][1]["event"] == "done"

    def row(self) -> dict[str, Any]:
        quick = self.quick_result
        return {
            "research_run_id": self.research_run_id,
            "status": self.status,
            "query": self.query,
            "quick_result": quick,
            "quick_result_summary": quick["answer"][:200] if quick else None,
            "deep_result": self.deep_result,
            "run_ids": self.run_ids,
            "created_at": iso(self.created_at),
            "completed_at": iso(self.completed_at),
        }

    def detail(self) -> dict[str, Any]:
        return {
            **self.row(),
            "error": self.error,
            "research_plan": self.plan,
            "evidence": self.evidence if self.evidence or self.status in TERMINAL else None,
            "iterations": self.iterations,
        }


def _records(call: Call) -> dict[str, ResearchRecord]:
    records: dict[str, ResearchRecord] = call.store.products.setdefault("research", {})
    return records


def _owned(call: Call) -> ResearchRecord:
    record = _records(call).get(call.request.path_params["run_id"])
    if record is None or record.owner != call.key:
        raise ApiError(404, "NOT_FOUND", "Research run not found")
    return record


def _check(body: Any) -> list[Issue]:
    if not isinstance(body, dict):
        return [issue("invalid_type", [], "Expected object")]
    issues: list[Issue] = []
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        issues.append(issue("too_small", ["query"], "query must be a non-empty string"))
    elif len(query) > 4000:
        issues.append(issue("too_big", ["query"], "query must be at most 4000 characters"))
    if body.get("mode", "deep") not in MODES:
        issues.append(issue("invalid_value", ["mode"], 'Invalid option: expected one of "deep"|"max"'))
    if body.get("domain_type") is not None and body["domain_type"] not in DOMAIN_TYPES:
        issues.append(issue("invalid_value", ["domain_type"], 'expected "web"|"news"|"research_paper"'))
    for name in ("after_date", "before_date"):
        if body.get(name) is not None and parse_iso(str(body[name])) is None:
            issues.append(issue("invalid_format", [name], f"{name} must be an ISO date"))
    recency = body.get("recency_minutes")
    if recency is not None and (not isinstance(recency, int) or recency < 1):
        issues.append(issue("too_small", ["recency_minutes"], "recency_minutes must be >= 1"))
    issues += [issue("unrecognized_keys", [k], f"Unrecognized key: {k}") for k in sorted(set(body) - FIELDS)]
    return issues


async def _drive(call: Call, record: ResearchRecord) -> None:
    """The research pipeline, one stage per ``delay``."""
    pause = record.delay
    await asyncio.sleep(pause)
    record.status = "RUNNING"
    record.emit("run_status", status="RUNNING")
    topic = re.sub(r"tf_\w+(=\S+)?", "", record.query).strip() or "the topic"
    subquestions = [
        {"id": "sq1", "question": f"What is known about {topic}?", "priority": "high"},
        {"id": "sq2", "question": f"What changed recently in {topic}?", "priority": "medium"},
    ]
    record.plan = {
        "summary": f"Research plan for {topic}",
        "subquestions": subquestions,
        "search_queries": [topic, f"{topic} latest"],
        "done": False,
    }
    record.iterations = 1
    record.emit("plan_updated", plan=record.plan)
    await asyncio.sleep(pause)
    if record.fail:
        record.error = {"code": "TASK_FAILED", "message": "The research pipeline failed after planning"}
        record.emit("error", message=record.error["message"])
        _finish(record, "FAILED")
        return
    record.emit("sources_searching", queries=record.plan["search_queries"])
    ranked = search.rank(call, topic, "en")[:3] or [
        {"title": f"{topic} overview", "url": "https://example.org/overview", "snippet": f"About {topic}."}
    ]
    record.emit("sources_searched", count=len(ranked))
    await asyncio.sleep(pause)
    for entry in ranked:
        record.evidence.append(
            {
                "url": entry["url"],
                "title": entry["title"],
                "published_date": entry.get("date"),
                "subquestions_covered": ["sq1"],
                "claims": [
                    {"claim": entry["snippet"], "snippet": entry["snippet"], "subquestion_id": "sq1",
                     "confidence": "high"},
                ],
                "source_quality": "primary",
            }
        )  # fmt: skip
        record.emit("source_fetched", url=entry["url"], title=entry["title"])
    agent_run = f"run_{uuid.uuid4().hex[:12]}"
    record.run_ids.append(agent_run)
    record.emit("agent_run_started", run_id=agent_run)
    record.emit("agent_run_completed", run_id=agent_run, status="COMPLETED")
    record.emit("evidence_snapshot", count=len(record.evidence))
    citations = [e["url"] for e in record.evidence]
    record.quick_result = {"answer": f"In short: {ranked[0]['snippet']}", "citations": citations[:1]}
    record.emit("partial_summary", **record.quick_result)
    await asyncio.sleep(pause)
    lines = [f"# {topic}", ""]
    lines += [f"- {e['claims'][0]['claim']} [{i}]" for i, e in enumerate(record.evidence, 1)]
    report = "\n".join(lines)
    for start in range(0, len(report), 80):
        record.emit("synthesis_delta", delta=report[start : start + 80])
    record.deep_result = {"result": report, "citations": citations, "termination_reason": "complete"}
    record.plan["done"] = True
    record.emit("final_result", **record.deep_result)
    _finish(record, "COMPLETED")


def _finish(record: ResearchRecord, status: str) -> None:
    if record.status in TERMINAL:
        return
    record.status = status
    record.completed_at = now()
    record.emit("run_status", status=status)
    record.emit("done")


async def _create(call: Call) -> ResearchRecord:
    body = await read_json(call.request)
    issues = _check(body)
    if issues:
        raise invalid_input(issues)
    query = body["query"]
    delay = re.search(r"tf_delay=([\d.]+)", query)
    records = _records(call)
    record = ResearchRecord(
        research_run_id=f"rr_{uuid.uuid4().hex[:16]}",
        owner=call.key,
        seq=call.store.next_seq(),
        query=query,
        body=body,
        delay=float(delay.group(1)) if delay else 0.05,
        fail="tf_fail" in query,
    )
    records[record.research_run_id] = record
    record.emit("created", research_run_id=record.research_run_id)
    record.emit("session", research_run_id=record.research_run_id, mode=body.get("mode", "deep"))
    record.task = asyncio.get_running_loop().create_task(_drive(call, record))
    return record


def _frame(seq: int | None, data: dict[str, Any]) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {data['event']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _stream(
    record: ResearchRecord, after: int, replay: bool, fault: Fault | None
) -> AsyncIterator[str]:
    """State events first (on a reconnect), then every event after ``after``, until done."""
    drop_after = fault.drop_after if fault else None
    sent = 0
    if replay:
        for seq, data in record.events:
            if data["event"] in (*STATE_EVENTS, "final_result", "error") and seq <= after:
                yield _frame(seq, data)
    index = after
    while True:
        while index < len(record.events):
            seq, data = record.events[index]
            index += 1
            if drop_after is not None and sent >= drop_after:
                return
            sent += 1
            yield _frame(seq, data)
            if data["event"] == "done":
                return
        waiter = record.changed
        try:
            await asyncio.wait_for(waiter.wait(), HEARTBEAT)
        except TimeoutError:
            yield _frame(None, {"event": "heartbeat", "timestamp": iso(now())})


def _sse(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


async def run_stream(call: Call) -> Response:
    record = await _create(call)
    return _sse(_stream(record, 0, False, call.fault))


async def run_async(call: Call) -> Response:
    record = await _create(call)
    return JSONResponse({"research_run_id": record.research_run_id, "error": None})


async def events(call: Call) -> Response:
    record = _owned(call)
    last = call.request.headers.get("last-event-id", "").strip()
    after = int(last) if last.isdigit() else 0
    return _sse(_stream(record, after, True, call.fault))


async def get(call: Call) -> Response:
    return JSONResponse(_owned(call).detail())


async def list_runs(call: Call) -> Response:
    params = call.request.query_params
    mine = [r for r in _records(call).values() if r.owner == call.key]
    if params.get("status"):
        mine = [r for r in mine if r.status == params["status"].upper()]
    if params.get("query"):
        mine = [r for r in mine if params["query"].lower() in r.query.lower()]
    ascending = params.get("sort_direction") == "asc"
    mine.sort(key=lambda r: r.seq, reverse=not ascending)
    try:
        limit = max(1, min(100, int(params.get("limit", "20"))))
        start = int(params.get("cursor") or 0)
    except ValueError:
        raise invalid_input([issue("invalid_type", ["limit"], "limit and cursor must be integers")]) from None
    page = mine[start : start + limit]
    more = start + limit < len(mine)
    return JSONResponse(
        {
            "data": [r.row() for r in page],
            "pagination": {
                "total": len(mine),
                "next_cursor": str(start + limit) if more else None,
                "has_more": more,
            },
        }
    )


async def cancel(call: Call) -> Response:
    record = _owned(call)
    changed = record.status not in TERMINAL
    if changed:
        if record.task is not None and not record.task.done():
            record.task.cancel()
        record.error = {"code": "CANCELLED", "message": "Cancelled by the user"}
        record.emit("error", message="Research run cancelled")
        _finish(record, "CANCELLED")
    return JSONResponse(
        {"research_run_id": record.research_run_id, "status": record.status, "cancelled": changed}
    )
