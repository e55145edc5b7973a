"""MCP Tasks over stdio, driven by the official requester (npm ``@modelcontextprotocol/ext-tasks``).

Our own tests (``test_tasks.py``) speak the extension by hand; here a second, independent
client does: ``@modelcontextprotocol/client`` 2.x pinned to 2026-07-28 with the package's task
session on top (``tests/node/tasks_requester.mjs``), starting ``python -m tinyfish_mcp``
itself against the emulator (and once with ``--sandbox``, its built-in one). A slow run
settles as a task with the run's own result, a cancelled task cancels the run upstream, and a
task handed off by one server process is settled through a second one. The HTTP side is
``tests/http/test_tasks_requester_http.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _requester import (
    SLOW_STEPS,
    SLOW_URL,
    assert_cancelled_upstream,
    assert_ran,
    assert_settled_with_the_run,
    cancels,
    creates,
    requester,
    stdio_transport,
)

TOOL = "run_web_automation"
ARGUMENTS = {"url": SLOW_URL, "goal": "List products"}


def test_a_slow_run_settles_as_a_task_with_its_result(emulator: Any, tmp_path: Path) -> None:
    report = requester(stdio_transport(emulator, tmp_path), "settle", tool=TOOL, arguments=ARGUMENTS)
    assert_settled_with_the_run(report, emulator)
    assert report["capabilities"]["cancellation"] is True
    # The requester polled while the run worked: the latest step was its news.
    polled = [seen for seen in report["seen"] if seen["status"] == "working"]
    assert len(polled) >= 2 and all(seen["taskId"] == report["taskId"] for seen in polled)
    steps = {
        step["action"] for step in emulator.run(report["result"]["structuredContent"]["run_id"])["steps"]
    }
    assert any(seen["statusMessage"] in steps for seen in polled), polled
    assert len(creates(emulator)) == 1 and not cancels(emulator)


def test_a_sandbox_run_settles_as_a_task(emulator: Any, tmp_path: Path) -> None:
    report = requester(
        stdio_transport(emulator, tmp_path, sandbox=True), "settle", tool=TOOL, arguments=ARGUMENTS
    )
    assert_ran(report)
    assert "SANDBOX" in report["stderr"] and report["kind"] == "task" and report["outcome"] == "completed"
    run = report["result"]["structuredContent"]
    assert run["status"] == "COMPLETED" and run["num_of_steps"] == SLOW_STEPS and run["result"]["items"]
    assert not creates(emulator)  # the test's emulator saw nothing: the sandbox served it all


def test_a_cancelled_task_cancels_the_run_upstream(emulator: Any, tmp_path: Path) -> None:
    report = requester(stdio_transport(emulator, tmp_path), "cancel", tool=TOOL, arguments=ARGUMENTS)
    run_id = assert_cancelled_upstream(report, emulator)
    assert run_id in report["afterCancel"]["statusMessage"]


def test_a_task_is_recovered_by_a_restarted_server(emulator: Any, tmp_path: Path) -> None:
    transport = stdio_transport(emulator, tmp_path)
    started = requester(transport, "start", tool=TOOL, arguments=ARGUMENTS)
    assert_ran(started)
    assert started["kind"] == "task" and started["reference"]["generation"] == "v2"
    # The first server process is gone (its client closed stdin); only the reference is left.
    assert "stdin closed" in started["stderr"]
    resumed = requester(transport, "resume", reference=started["reference"])
    assert resumed["taskId"] == started["taskId"]
    assert_settled_with_the_run(resumed, emulator)
    assert len(creates(emulator)) == 1 and not cancels(emulator)
