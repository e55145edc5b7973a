"""What the research tools return, and the progress message of each stream event."""

from __future__ import annotations

import json
from typing import Any

from ..runtime.bounds import clip
from ..runtime.schema import OutputModel
from ..upstream.research import ResearchEvent, ResearchRun, ResearchRunDetail

__all__ = [
    "CancelledResearch",
    "EvidenceRow",
    "ResearchPage",
    "ResearchResult",
    "ResearchRow",
    "describe",
    "evidence_page",
    "research_result",
    "research_row",
]

QUERY_PREVIEW = 120


class EvidenceRow(OutputModel):
    url: str
    title: str | None = None
    published_date: str | None = None
    quality: str | None = None
    claims: list[str]


class ResearchResult(OutputModel):
    research_run_id: str
    status: str
    query: str | None = None
    quick_answer: str | None = None
    report: str | None = None
    citations: list[str] | None = None
    sources: int | None = None
    subquestions: list[str] | None = None
    agent_run_ids: list[str] | None = None
    error: str | None = None
    evidence: list[EvidenceRow] | None = None
    next_offset: int | None = None
    next_step: str | None = None


class ResearchRow(OutputModel):
    research_run_id: str
    status: str
    query: str
    summary: str | None = None
    created_at: str | None = None


class ResearchPage(OutputModel):
    runs: list[ResearchRow]
    total: int | None = None
    next_cursor: str | None = None


class CancelledResearch(OutputModel):
    research_run_id: str
    status: str
    cancelled: bool
    note: str | None = None


def _text(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: ResearchEvent) -> str | None:
    """One short progress message for ``event`` (None: a keep-alive without text)."""
    name, get = event.event, event.get
    if name == "created":
        return f"Research run {event.research_run_id} created"
    if name == "run_status":
        return f"Status: {get('status')}" if get("status") else None
    if name == "plan_updated":
        plan = get("plan") if isinstance(get("plan"), dict) else {}
        questions = [q.get("question", "") for q in plan.get("subquestions", []) if isinstance(q, dict)]
        if questions:
            return f"Plan: {len(questions)} sub-questions: " + "; ".join(_text(q, 60) for q in questions[:4])
        return "Plan updated"
    if name == "sources_searching":
        queries = get("queries")
        return "Searching: " + "; ".join(_text(q, 50) for q in queries[:3]) if queries else "Searching"
    if name == "sources_searched":
        return f"Found {get('count')} sources" if get("count") is not None else "Search done"
    if name in ("source_fetched", "sources_fetching", "site_mapped"):
        where = get("url") or get("title")
        return f"Reading {_text(where)}" if where else "Reading sources"
    if name == "agent_run_started":
        return f"Agent run {get('run_id')} started" if get("run_id") else "Agent run started"
    if name == "agent_run_completed":
        return f"Agent run {get('run_id')} finished" if get("run_id") else "Agent run finished"
    if name == "evidence_snapshot":
        return f"Evidence from {get('count')} sources" if get("count") is not None else "Evidence gathered"
    if name == "partial_summary":
        return f"Quick answer: {_text(get('answer') or '', 160)}"
    if name == "synthesis_delta":
        return "Writing the report"
    if name == "final_result":
        return f"Report ready ({len(get('citations') or [])} citations)"
    if name == "error":
        return f"Error: {_text(get('message') or 'the research pipeline failed', 160)}"
    if name in ("heartbeat", "session", "done"):
        return None
    return name.replace("_", " ").capitalize()


def research_row(run: ResearchRun) -> ResearchRow:
    query, _ = clip(run.query, QUERY_PREVIEW)
    summary = run.quick_result_summary or (run.quick_result.answer if run.quick_result else None)
    return ResearchRow(
        research_run_id=run.research_run_id,
        status=run.status,
        query=query,
        summary=_text(summary, 200) if summary else None,
        created_at=run.created_at,
    )


def research_result(
    run: ResearchRunDetail,
    budget: int,
    quick: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    *,
    error: str | None = None,
    offset: int = 0,
) -> ResearchResult:
    """The run as the model reads it: the report clipped to ``budget`` from ``offset``."""
    run_id = run.research_run_id
    deep = run.deep_result
    text = deep.result if deep else (report or {}).get("result")
    citations = deep.citations if deep else (report or {}).get("citations")
    quick_answer = run.quick_result.answer if run.quick_result else (quick or {}).get("answer")
    out = ResearchResult(
        research_run_id=run_id,
        status=run.status,
        query=clip(run.query, QUERY_PREVIEW)[0] or None,
        quick_answer=quick_answer,
        citations=citations or None,
        sources=len(run.evidence) if run.evidence is not None else None,
        subquestions=[q.question for q in run.research_plan.subquestions] if run.research_plan else None,
        agent_run_ids=run.run_ids or None,
        error=(f"{run.error.code}: {run.error.message}" if run.error else error),
    )
    if text:
        out.report, out.next_offset = clip(text, budget, offset)
        if out.next_offset is not None:
            out.next_step = (
                f"The report continues: get_research(research_run_id='{run_id}', offset={out.next_offset})."
            )
    elif run.status not in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"):
        out.next_step = (
            f"Still {run.status}: continue with wait_for_research(research_run_id='{run_id}'); "
            "do not start the research again."
        )
    if out.next_step is None and run.evidence:
        out.next_step = f"Sources and claims: get_research(research_run_id='{run_id}', part='evidence')."
    return out


def evidence_page(run: ResearchRunDetail, offset: int, budget: int) -> ResearchResult:
    """Evidence items from ``offset``, as many as fit in ``budget`` characters (at least one)."""
    items = run.evidence or []
    rows: list[EvidenceRow] = []
    used = 0
    for item in items[offset:]:
        row = EvidenceRow(
            url=item.url,
            title=item.title or None,
            published_date=item.published_date,
            quality=item.source_quality,
            claims=[_text(c.claim, 300) for c in item.claims[:10]],
        )
        used += len(row.model_dump_json())
        if rows and used > budget:
            break
        rows.append(row)
    following = offset + len(rows)
    more = following < len(items)
    return ResearchResult(
        research_run_id=run.research_run_id,
        status=run.status,
        sources=len(items),
        evidence=rows,
        next_offset=following if more else None,
        next_step=f"More evidence: get_research(research_run_id='{run.research_run_id}', part='evidence', "
        f"offset={following})."
        if more
        else None,
    )
