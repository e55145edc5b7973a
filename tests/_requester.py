"""The official MCP Tasks requester (npm ``@modelcontextprotocol/ext-tasks``) as a test helper.

``tests/node/tasks_requester.mjs`` is our own small driver of it, run with the Node 22 that
``.ci/run`` installs under ``.ci/node`` (``npm install --prefix .ci/node``). Where that is
missing the tests skip, and fail under ``CI=true`` (CI installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _servers import clean_env

__all__ = [
    "SLOW_STEPS",
    "SLOW_URL",
    "assert_cancelled_upstream",
    "assert_ran",
    "assert_settled_with_the_run",
    "cancels",
    "creates",
    "requester",
    "stdio_transport",
]

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / ".ci" / "node" / "node_modules"
NODE = MODULES / ".bin" / "node"
SCRIPT = ROOT / "tests" / "node" / "tasks_requester.mjs"
PACKAGES = ("@modelcontextprotocol/client", "@modelcontextprotocol/ext-tasks")
# Steps a quarter second apart: still working at the requester's first tasks/get (2 s).
SLOW_STEPS = 16
SLOW_URL = f"https://shop.example.com/?tf_scenario=slow&tf_steps={SLOW_STEPS}&tf_step_delay=0.25"
_CREATES = ("/v1/automation/run-sse", "/v1/automation/run-async")
_GUARD = 120  # only against a hung process


def _require_node() -> Path:
    missing = [str(p) for p in (NODE, *(MODULES / name for name in PACKAGES)) if not p.exists()]
    if missing:
        message = "the requester is not installed (npm install --prefix .ci/node): missing " + ", ".join(
            missing
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return NODE


def stdio_transport(emulator: Any, state_dir: Path, *, sandbox: bool = False) -> dict[str, Any]:
    """``python -m tinyfish_mcp`` on stdio against the emulator, for the requester to start.

    ``sandbox``: ``--sandbox`` instead, serving against the emulator built into the process.
    """
    clean = clean_env()
    env = {**clean, "TINYFISH_MCP_STATE_DIR": str(state_dir)}  # where the stdio task-sealing key is kept
    if not sandbox:
        env.update({"TINYFISH_API_KEY": emulator.api_key, "TINYFISH_BASE_URL": emulator.base_url})
    args = ["-m", "tinyfish_mcp", *(["--sandbox"] if sandbox else [])]
    return {"kind": "stdio", "command": sys.executable, "args": args, "env": env}


def requester(transport: dict[str, Any], action: str, **job: Any) -> dict[str, Any]:
    """Run one job of the driver (see its header) and return its report.

    A job the requester could not complete (a JSON-RPC error, say) reports ``error`` and
    ``code`` instead; the caller asserts on it.
    """
    node = _require_node()
    spec = json.dumps({"transport": transport, "action": action, **job})
    done = subprocess.run(  # noqa: S603 - our own script
        [str(node), str(SCRIPT), spec], capture_output=True, text=True, timeout=_GUARD, check=False
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"the requester said nothing (exit {done.returncode}):\n{done.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    report["stderr"] = done.stderr
    return report


def assert_ran(report: dict[str, Any]) -> None:
    """The requester finished without an error of its own (its stderr's tail says why if not)."""
    assert "error" not in report, report.get("error", "") + report["stderr"][-3000:]


def assert_cancelled_upstream(report: dict[str, Any], emulator: Any) -> str:
    """The requester cancelled its task, and that cancelled the one run upstream; its id."""
    assert_ran(report)
    assert report["kind"] == "task" and report["afterCancel"]["status"] == "cancelled"
    assert len(creates(emulator)) == 1
    (run_id,) = cancels(emulator)
    upstream = emulator.run(run_id)
    assert upstream["cancel_requested"] is True and upstream["status"] == "CANCELLED"
    return str(run_id)


def assert_settled_with_the_run(report: dict[str, Any], emulator: Any) -> None:
    """The requester settled a task whose result is the run exactly as TinyFish has it."""
    assert_ran(report)
    assert report["era"] == "modern" and report["protocol"] == "2026-07-28"
    assert report["kind"] == "task" and report["taskId"]
    assert report["outcome"] == "completed", report
    result = report["result"]
    assert result["isError"] is False
    run = result["structuredContent"]
    upstream = emulator.run(run["run_id"])
    assert upstream["status"] == run["status"] == "COMPLETED"
    assert (
        run["result"] == upstream["result"] and run["num_of_steps"] == upstream["num_of_steps"] == SLOW_STEPS
    )


def creates(emulator: Any) -> list[dict[str, Any]]:
    """The runs created upstream since the emulator's reset."""
    return [r for r in emulator.requests() if r["method"] == "POST" and r["path"] in _CREATES]


def cancels(emulator: Any) -> list[str]:
    """The ids of the runs a cancel was sent for since the emulator's reset."""
    paths = [
        r["path"] for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/cancel")
    ]
    return [path.split("/")[-2] for path in paths]
