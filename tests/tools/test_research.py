"""The research tools through a real MCP client against the emulator's Research API."""

from __future__ import annotations

import time
from typing import Any

import anyio
from _inmemory import connect, error_text, structured
from _mcp import ProgressLog, stdio_server

STAGES = ("Plan: 2 sub-questions", "Searching: tide tables", "Found ", "Reading ", "Evidence from ")


def _research_run(emulator: Any, ident: str) -> dict[str, Any]:
    return emulator.read(f"/v1/research-run/{ident}")


def _once(messages: list[str | None], prefix: str) -> None:
    found = [m for m in messages if m is not None and m.startswith(prefix)]
    assert len(found) == 1, (prefix, messages)


async def test_research_streams_its_stages_and_returns_a_cited_report(emulator: Any) -> None:
    log = ProgressLog()
    async with stdio_server(emulator, toolsets="research") as client:
        result = structured(
            await client.call_tool("run_research", {"query": "tide tables"}, progress_callback=log)
        )
    run = _research_run(emulator, result["research_run_id"])
    assert result["status"] == "COMPLETED" == run["status"]
    assert result["report"] == run["deep_result"]["result"] and "[1]" in result["report"]
    assert result["citations"] == run["deep_result"]["citations"] == [e["url"] for e in run["evidence"]]
    assert result["quick_answer"] == run["quick_result"]["answer"]
    assert result["sources"] == len(run["evidence"]) and len(result["subquestions"]) == 2
    messages = log.messages
    assert messages[0] == f"Research run {result['research_run_id']} created"
    for prefix in (
        *STAGES,
        "Quick answer: In short",
        "Writing the report",
        "Report ready",
        "Status: COMPLETED",
    ):
        _once(messages, prefix)
    run_ids = run["run_ids"]
    assert [m for m in messages if m and m.startswith("Agent run")] == [
        f"Agent run {run_ids[0]} started",
        f"Agent run {run_ids[0]} finished",
    ]
    assert result["agent_run_ids"] == run_ids
    assert log.counters == sorted(set(log.counters))
    assert emulator.requests()[0]["path"] == "/v1/automation/run-research"


async def test_a_dropped_stream_resumes_and_reports_each_event_once(emulator: Any) -> None:
    emulator.fault("/v1/automation/run-research", method="POST", drop_after=3)
    log = ProgressLog()
    async with connect(emulator, mcp_toolsets=("research",)) as client:
        result = structured(
            await client.call_tool("run_research", {"query": "tide tables"}, progress_callback=log)
        )
    assert result["status"] == "COMPLETED" and result["report"]
    messages = log.messages
    _once(messages, "The event stream dropped; resuming it")
    # The reconnect replays the run's saved state (created, session): reported once anyway.
    _once(messages, "Research run ")
    for prefix in (*STAGES, "Quick answer", "Report ready"):
        _once(messages, prefix)
    resumed = [r for r in emulator.requests() if r["path"].endswith("/events")]
    assert [r["path"] for r in resumed] == [f"/v1/research-run/{result['research_run_id']}/events"]


async def test_research_that_outlives_the_window_returns_its_quick_answer_and_is_continued(
    emulator: Any,
) -> None:
    async with connect(emulator, mcp_toolsets=("research",)) as client:
        first = structured(
            await client.call_tool(
                "run_research", {"query": "tide tables tf_delay=1", "max_wait_seconds": 3.5}
            )
        )
        assert first["status"] == "RUNNING"
        assert first["quick_answer"].startswith("In short")
        assert "wait_for_research(research_run_id=" in first["next_step"]
        log = ProgressLog()
        done = structured(
            await client.call_tool(
                "wait_for_research", {"research_run_id": first["research_run_id"]}, progress_callback=log
            )
        )
    assert done["status"] == "COMPLETED" and done["report"].startswith("# tide tables")
    assert log.messages[0] == f"Research run {first['research_run_id']} is RUNNING"
    _once(log.messages, "Report ready")
    starts = [r for r in emulator.requests() if r["path"] == "/v1/automation/run-research"]
    assert len(starts) == 1


async def test_client_cancel_cancels_the_research_run_upstream(emulator: Any) -> None:
    log = ProgressLog()
    async with connect(emulator, mcp_toolsets=("research",)) as client:
        with anyio.move_on_after(1.0) as scope:
            await client.call_tool(
                "run_research", {"query": "tide tables tf_delay=0.5"}, progress_callback=log
            )
        assert scope.cancelled_caught
        first = log.messages[0]
        assert first is not None and first.startswith("Research run ")
        run_id = first.split()[2]
        deadline = time.monotonic() + 5
        while _research_run(emulator, run_id)["status"] != "CANCELLED" and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        assert _research_run(emulator, run_id)["status"] == "CANCELLED"
        cancels = [r for r in emulator.requests() if r["path"] == f"/v1/research-run/{run_id}/cancel"]
        assert len(cancels) == 1
        # The tools still answer about it afterwards.
        again = structured(await client.call_tool("cancel_research", {"research_run_id": run_id}))
        assert again == {
            "research_run_id": run_id,
            "status": "CANCELLED",
            "cancelled": False,
            "note": "Not changed: the run is already CANCELLED.",
        }


async def test_report_and_evidence_page_and_runs_are_listed(emulator: Any) -> None:
    async with connect(emulator, mcp_toolsets=("research",), mcp_max_result_chars=1000) as client:
        done = structured(await client.call_tool("run_research", {"query": "tide tables"}))
        run_id = done["research_run_id"]
        full = _research_run(emulator, run_id)["deep_result"]["result"]
        first = structured(
            await client.call_tool("get_research", {"research_run_id": run_id, "max_chars": 500})
        )
        assert first["report"] == full[:500] or full == first["report"]
        if len(full) > 500:
            rest = structured(
                await client.call_tool(
                    "get_research", {"research_run_id": run_id, "offset": first["next_offset"]}
                )
            )
            assert first["report"] + rest["report"] == full
        evidence = structured(
            await client.call_tool("get_research", {"research_run_id": run_id, "part": "evidence"})
        )
        assert [e["url"] for e in evidence["evidence"]] == done["citations"]
        assert evidence["evidence"][0]["claims"]
        listed = structured(await client.call_tool("list_research", {"limit": 5}))
        assert [r["research_run_id"] for r in listed["runs"]] == [run_id]
        missing = error_text(await client.call_tool("get_research", {"research_run_id": "rr_nope"}))
        bad = error_text(await client.call_tool("run_research", {"query": "x", "recency_minutes": 0}))
    assert "NOT_FOUND" in missing and "list_research shows your research runs" in missing
    assert "`recency_minutes` must be at least 1; got 0" in bad
