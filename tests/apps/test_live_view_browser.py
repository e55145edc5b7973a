"""The live-view app in a real browser, inside a host built on ext-apps' AppBridge.

``live_view_host.mjs`` (Node, from ``.ci/node``: the ext-apps host bridge, the MCP client,
ext-tasks' task session and playwright-core driving the machine's Chromium) starts
``python -m tinyfish_mcp`` on stdio twice against an emulator whose browser sessions are real
Chromium: one server for an ordinary and a Tasks-aware host on 2026-07-28, one (a handshake
client) whose frame domains leave the sandbox out. In one browser it renders the app for a
RUNNING run, a task handle, a browser session, a profile setup, and the refused frame; it runs
once per module and each test below reads what one scenario showed. The screenshots are kept
as test artifacts (``.ci/artifacts/live-view*.png``, or ``$TINYFISH_TEST_ARTIFACTS``);
docs/img/live-view.png is a copy of the run's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from _browsers import process_exists, require_chromium
from _mcp import FAST_POLL

from tinyfish_mcp.emulator import EmulatorHandle

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / ".ci" / "node"
NODE_PARTS = (
    "@modelcontextprotocol/ext-apps",
    "@modelcontextprotocol/ext-tasks",
    "@modelcontextprotocol/client",
    "playwright-core",
)
HOST_SCRIPT = Path(__file__).with_name("live_view_host.mjs")
COORDINATED = ROOT / "tests" / "node" / "coordinated.mjs"
API_KEY = "sk-tinyfish-emulator"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# Five steps 0.4 s apart: the run is still going when the call window (1 s) or the task hands off.
RUN_URL = "https://shop.example.com/?tf_steps=5&tf_step_delay=0.4"
LINK_URL = "https://shop.example.com/?tf_steps=2&tf_step_delay=0.05"
OTHER_ORIGIN = "https://live.example.com"


def _node() -> str:
    """Node and the npm parts (.ci/run installs them); missing: skip, or fail under CI=true."""
    modules = NODE_DIR / "node_modules"
    missing = [part for part in NODE_PARTS if not (modules / part / "package.json").is_file()]
    bundled = modules / ".bin" / "node"
    node = str(bundled) if bundled.exists() else shutil.which("node")
    if node is None:
        missing.append("node")
    if missing:
        message = f"missing {', '.join(missing)}: npm install --prefix .ci/node"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return node


def _artifacts() -> Path:
    folder = Path(os.environ.get("TINYFISH_TEST_ARTIFACTS") or ROOT / ".ci" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Hosted:
    """What the host printed, and the emulator's own view of the work to compare it with."""

    shown: dict[str, Any]
    emulator: EmulatorHandle
    http: httpx.Client
    artifacts: Path

    def control(self, path: str) -> dict[str, Any]:
        response = self.http.get(f"{self.emulator.base_url}/_emulator{path}")
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    def run(self, run_id: str) -> dict[str, Any]:
        return self.control(f"/runs/{run_id}")


@pytest.fixture(scope="module")
def hosted(
    chromium_server: EmulatorHandle,
    _control_http: httpx.Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hosted]:
    node = _node()
    chromium = require_chromium()
    _control_http.post(f"{chromium_server.base_url}/_emulator/reset").raise_for_status()
    work = tmp_path_factory.mktemp("live-view-host")
    # The script resolves its imports from a node_modules beside it: .ci/node's, linked.
    (work / "node_modules").symlink_to(NODE_DIR / "node_modules", target_is_directory=True)
    script = work / HOST_SCRIPT.name
    shutil.copyfile(HOST_SCRIPT, script)
    shutil.copyfile(COORDINATED, work / COORDINATED.name)
    artifacts = _artifacts()
    for old in [*artifacts.glob("live-view*.png"), artifacts / "live-view-host.json"]:
        old.unlink(missing_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TINYFISH_")},
        **FAST_POLL,
        "TINYFISH_BASE_URL": chromium_server.base_url,
        "TINYFISH_API_KEY": API_KEY,
        "TINYFISH_MCP_SESSION_ID_STORE": "memory",
        "TINYFISH_MCP_STATE_DIR": str(work / "state"),  # where the stdio task-sealing key is kept
        "TINYFISH_MCP_TOOLSETS": "agent,runs,browser,profiles",
    }
    arguments = {
        "python": sys.executable,
        "env": env,
        "linkEnv": {**env, "TINYFISH_MCP_APP_FRAME_DOMAINS": OTHER_ORIGIN},
        "chromium": chromium,
        "artifacts": str(artifacts),
        "runUrl": RUN_URL,
        "taskUrl": RUN_URL,
        "linkUrl": LINK_URL,
        "goal": "Find the three cheapest products and their prices",
    }
    done = subprocess.run(  # noqa: S603 - our own script, run by the Node we found
        [node, str(script)],
        cwd=work,
        env={**os.environ, "TFMCP_HOST_ARGS": json.dumps(arguments)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    (artifacts / "live-view-host.json").write_text(json.dumps(shown, indent=1))  # what each app showed
    yield Hosted(shown, chromium_server, _control_http, artifacts)


def _no_console_errors(view: dict[str, Any]) -> None:
    assert not [line for line in view["console"] if "error" in line.lower()], view["console"]


def _never_back_from_the_end(statuses: list[str]) -> None:
    ended = [i for i, status in enumerate(statuses) if status in TERMINAL]
    assert ended, statuses
    assert all(status in TERMINAL for status in statuses[ended[0] :]), statuses


def test_the_app_follows_a_running_run_to_its_result(hosted: Hosted) -> None:
    shown = hosted.shown["run"]
    assert hosted.shown["protocols"] == ["2026-07-28", "2025-11-25"]
    # The call came back before the run ended; the app followed it through the host bridge.
    first = shown["first"]
    assert first["status"] in ("PENDING", "RUNNING")
    assert {"get_run", "get_steps"} <= set(shown["calls"])
    run = hosted.run(first["run_id"])
    assert run["status"] == "COMPLETED"
    # The live browser in a frame: the run's streaming_url, framed (the sandbox's origin is allowed).
    assert shown["frameSrc"] == run["streaming_url"]
    assert run["streaming_url"] == f"{hosted.emulator.base_url}/_live/{first['run_id']}/stream/0"
    assert shown["frameVisible"] and shown["link"] == run["streaming_url"]
    actions = [step["action"] for step in run["steps"]]
    assert len(actions) == 5
    assert [line.split(" · ")[0] for line in shown["steps"]] == actions
    assert shown["liveSteps"] == actions  # what the framed live view itself lists
    assert shown["status"] == "COMPLETED" and shown["task"] is None
    _never_back_from_the_end(shown["statuses"])
    assert shown["result"] == run["result"]
    assert shown["cost"] == "5 step(s), billed per step"
    assert shown["next"] == ""  # the RUNNING call's "call wait_for_run" is gone once the run ended
    _no_console_errors(shown)
    assert (hosted.artifacts / "live-view.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_tasks_aware_host_hands_the_app_the_task_and_the_app_follows_its_run(hosted: Hosted) -> None:
    shown = hosted.shown["task"]
    # The handle the host handed over names the run (ours) and the task (the standard key).
    work = shown["handed"]["_meta"]["io.tinyfish/work"]
    assert work["kind"] == "run"
    assert shown["handed"]["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": shown["taskId"]}
    assert shown["seen"][0]["status"] == "working"
    assert all(look["meta"]["io.tinyfish/work"] == work for look in shown["seen"])
    run = hosted.run(work["id"])
    assert run["status"] == "COMPLETED"

    # Handed the handle, the app showed the task working and followed the run through the tools.
    followed = shown["followed"]
    assert followed["tasks"][0] == "task working" and set(followed["tasks"][1:]) == {"task completed"}
    assert followed["statuses"][0] == "working" and followed["title"] == f"Run {work['id']}"
    assert {"get_run", "get_steps"} <= set(followed["calls"])
    assert followed["status"] == "COMPLETED" and followed["task"] == "task completed"
    assert followed["frameSrc"] == run["streaming_url"] and followed["frameVisible"]
    actions = [step["action"] for step in run["steps"]]
    assert len(actions) == 5 and [line.split(" · ")[0] for line in followed["steps"]] == actions
    assert followed["result"] == run["result"]

    # Then the host settled the task with tasks/get and delivered its final result: it is the
    # emulator's run result, tagged with the task, and the app shows it without going back.
    assert shown["outcome"] == "completed"
    final = shown["final"]
    assert final["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": shown["taskId"]}
    assert final["structuredContent"]["run_id"] == work["id"]
    assert final["structuredContent"]["result"] == run["result"]
    delivered = shown["delivered"]
    assert delivered["status"] == "COMPLETED" and delivered["task"] == "task completed"
    assert set(delivered["tasks"][1:]) == {"task completed"}
    assert delivered["result"] == run["result"]
    assert [line.split(" · ")[0] for line in delivered["steps"]] == actions  # no step shown twice
    assert len(delivered["statuses"]) > len(followed["statuses"])  # the delivery was shown
    _never_back_from_the_end(delivered["statuses"])
    _no_console_errors(delivered)


def test_a_browser_session_is_framed_with_its_screencast_and_closed(hosted: Hosted) -> None:
    shown = hosted.shown["session"]
    session = shown["session"]
    inspector = session["inspector_url"]
    assert inspector.startswith(f"{hosted.emulator.base_url}/_browser/{session['session_id']}/devtools/")
    assert shown["frameSrc"] == inspector and shown["frameVisible"] and shown["link"] == inspector
    assert shown["screencastBytes"] > 1000  # a JPEG from Chromium's Page.startScreencast, shown
    assert shown["title"] == f"Browser session {session['session_id']}" and shown["status"] == "running"
    _no_console_errors(shown)


def test_a_profile_setup_frames_its_viewer(hosted: Hosted) -> None:
    shown = hosted.shown["profile"]
    setup = shown["setup"]
    assert setup["viewer_url"].startswith(f"{hosted.emulator.base_url}/_browser/{setup['session_id']}/")
    assert shown["frameSrc"] == setup["viewer_url"] and shown["frameVisible"]
    assert shown["screencastBytes"] > 1000
    assert shown["title"] == f"Profile setup: {setup['profile_id']}" and shown["status"] == "running"
    _no_console_errors(shown)


def test_a_frame_origin_not_allowed_is_shown_as_a_link(hosted: Hosted) -> None:
    shown = hosted.shown["link"]
    run = hosted.run(shown["first"]["run_id"])
    assert not shown["frameVisible"] and shown["frameSrc"] is None
    assert shown["link"] == run["streaming_url"]
    host = run["streaming_url"].split("/")[2]
    assert shown["frameNote"].startswith(f"This host does not let the view frame {host}.")
    assert shown["status"] == "COMPLETED" and shown["result"] == run["result"]
    _no_console_errors(shown)


def test_no_browser_session_is_left_open(hosted: Hosted) -> None:
    session = hosted.control(f"/browser/{hosted.shown['session']['session']['session_id']}")
    assert session["real"] and session["ended_at"] is not None, session
    assert not process_exists(session["pid"]), session
    # A cancelled profile setup is gone from the emulator altogether.
    setup_id = hosted.shown["profile"]["setup"]["session_id"]
    assert hosted.http.get(f"{hosted.emulator.base_url}/_emulator/browser/{setup_id}").status_code == 404
    browsers = hosted.emulator.app.state.browsers
    assert browsers is not None and browsers.pids == []  # no Chromium of the emulator still runs
