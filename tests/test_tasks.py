"""MCP Tasks (2026-07-28 extension) over stdio, driven by hand over the server's pipes.

A long-running call from a client that declares the extension becomes a task whose id
is sealed (no task store): the task is read after the server restarts, a cancel reaches
the run upstream, an altered id is not found, and a fast tool never makes a task.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from test_stdio_shutdown import SLOW_URL, _server

from tinyfish_mcp.pipeline.task_ids import SealedTask
from tinyfish_mcp.pipeline.tasks import work_reference

TASKS = "io.modelcontextprotocol/tasks"
_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}},
}


def _call(pipes: Any, ident: int, method: str, params: dict[str, Any], meta: dict[str, Any] = _META) -> Any:
    pipes.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": {**params, "_meta": meta}})
    return pipes.read_until(lambda m: m.get("id") == ident)


def _start(pipes: Any, ident: int) -> dict[str, Any]:
    arguments = {"url": SLOW_URL, "goal": "List products", "max_wait_seconds": 120}
    answer = _call(pipes, ident, "tools/call", {"name": "run_web_automation", "arguments": arguments})
    result: dict[str, Any] = answer["result"]
    return result


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path


def test_a_run_settles_as_a_task_read_again_after_a_restart(emulator: Any, state: Path) -> None:
    with _server(emulator, handshake=False) as pipes:
        created = _start(pipes, 2)
        assert created["resultType"] == "task", created
        assert created["status"] == "working" and created["pollIntervalMs"] > 0
        task_id = created["taskId"]
        # The work it follows, for a host to hand the live-view app (the caller's own run id).
        work = created["_meta"]["io.tinyfish/work"]
        assert work["kind"] == "run" and emulator.run(work["id"])["status"] in ("PENDING", "RUNNING")
        first = _call(pipes, 3, "tasks/get", {"taskId": task_id})["result"]
        assert first["resultType"] == "complete" and first["status"] == "working"
        assert first["statusMessage"]
        assert first["_meta"]["io.tinyfish/work"] == work
    assert (state / "tinyfish-mcp" / "task-key").stat().st_mode & 0o077 == 0
    with _server(emulator, handshake=False) as pipes:  # a new process: nothing but the id survives
        deadline, ident = time.monotonic() + 60, 10
        while True:
            got = _call(pipes, ident, "tasks/get", {"taskId": task_id})["result"]
            if got["status"] != "working" or time.monotonic() > deadline:
                break
            ident += 1
            time.sleep(0.5)
    assert got["status"] == "completed", got
    assert got["result"]["structuredContent"]["status"] == "COMPLETED"
    run_id = got["result"]["structuredContent"]["run_id"]
    assert emulator.run(run_id)["status"] == "COMPLETED"
    assert run_id == work["id"] and got["_meta"]["io.tinyfish/work"] == work
    # The final result, lifted out of tasks/get, still says which task it ends (the standard key).
    assert got["result"]["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task_id}


def test_a_cancelled_task_cancels_the_run_upstream(emulator: Any, state: Path) -> None:
    with _server(emulator, handshake=False) as pipes:
        created = _start(pipes, 2)
        task_id = created["taskId"]
        cancelled = _call(pipes, 3, "tasks/cancel", {"taskId": task_id})
        got = _call(pipes, 4, "tasks/get", {"taskId": task_id})["result"]
        forged = task_id[:-4] + ("AAAA" if not task_id.endswith("AAAA") else "BBBB")
        missing = _call(pipes, 5, "tasks/get", {"taskId": forged})
        update = _call(pipes, 6, "tasks/update", {"taskId": task_id, "inputResponses": {}})
    assert cancelled["result"]["resultType"] == "complete"
    (cancel,) = [r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/cancel")]
    run_id = cancel["path"].split("/")[-2]
    assert emulator.run(run_id)["status"] == "CANCELLED"
    assert got["status"] == "cancelled", got
    assert got["result"]["structuredContent"]["status"] == "CANCELLED"
    assert missing["error"]["code"] == -32602
    assert update["result"]["resultType"] == "complete"


def test_no_task_without_the_extension_nor_for_a_fast_tool(emulator: Any, state: Path) -> None:
    plain = {**_META, "io.modelcontextprotocol/clientCapabilities": {}}
    with _server(emulator, handshake=False) as pipes:
        fast = _call(pipes, 2, "tools/call", {"name": "list_runs", "arguments": {}})["result"]
        arguments = {"url": "https://shop.example.com/", "goal": "List products"}
        run = _call(pipes, 3, "tools/call", {"name": "run_web_automation", "arguments": arguments}, plain)
        refused = _call(pipes, 4, "tasks/get", {"taskId": "tft1.x"}, plain)
    assert fast["resultType"] == "complete" and "taskId" not in fast
    assert run["result"]["resultType"] == "complete"
    ours = {"io.tinyfish/work", "io.modelcontextprotocol/related-task"}
    assert not (run["result"].get("_meta") or {}).keys() & ours  # no task: the result as ever
    assert run["result"]["structuredContent"]["status"] == "COMPLETED"
    assert refused["error"]["code"] == -32021


def test_the_work_reference_of_each_kind() -> None:
    def task(kind: str, ident: str) -> SealedTask:
        return SealedTask(kind, ident, "owner", "tool", "2026-01-01T00:00:00.000Z")

    assert work_reference(task("run", "r-1")) == {"kind": "run", "id": "r-1"}
    assert work_reference(task("batch", "r-1,r-2")) == {"kind": "batch", "ids": ["r-1", "r-2"]}
    assert work_reference(task("research", "rr-1")) == {"kind": "research", "id": "rr-1"}
    assert work_reference(task("dataset", "ds-1")) == {"kind": "dataset", "id": "ds-1"}
