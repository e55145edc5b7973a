"""The live-view app in a real browser, inside a host built on ext-apps' AppBridge.

``live_view_host.mjs`` (Node, from ``.ci/node``: the ext-apps host bridge, the MCP client and
playwright-core driving the machine's Chromium) starts ``python -m tinyfish_mcp`` on stdio
against the emulator, renders the app the run tool names, calls ``run_web_automation`` with a
short window so it returns RUNNING, and hands the result to the app, which follows the run
through ``get_run`` / ``get_steps`` over the bridge. The screenshot it takes is kept as a test
artifact (``.ci/artifacts/live-view.png``, or ``$TINYFISH_TEST_ARTIFACTS``); docs/img/live-view.png
is a copy of one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _browsers import require_chromium
from _mcp import FAST_POLL

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / ".ci" / "node"
NODE_PARTS = ("@modelcontextprotocol/ext-apps", "@modelcontextprotocol/client", "playwright-core")
HOST_SCRIPT = Path(__file__).with_name("live_view_host.mjs")


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


def test_the_app_follows_a_sandbox_run_to_its_result_in_a_real_browser(emulator: Any, tmp_path: Path) -> None:
    node = _node()
    chromium = require_chromium()
    # The script resolves its imports from a node_modules beside it: .ci/node's, linked.
    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules", target_is_directory=True)
    script = tmp_path / HOST_SCRIPT.name
    shutil.copyfile(HOST_SCRIPT, script)
    screenshot = _artifacts() / "live-view.png"
    screenshot.unlink(missing_ok=True)
    server_env = {
        **os.environ,
        **FAST_POLL,
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_API_KEY": emulator.api_key,
        "TINYFISH_MCP_SESSION_ID_STORE": "memory",
    }
    url = "https://shop.example.com/?tf_steps=5&tf_step_delay=0.4"
    arguments = {
        "python": sys.executable,
        "env": server_env,
        "chromium": chromium,
        "screenshot": str(screenshot),
        "url": url,
        "goal": "Find the three cheapest products and their prices",
        "maxWait": 1,
    }
    done = subprocess.run(  # noqa: S603 - our own script, run by the Node we found
        [node, str(script)],
        cwd=tmp_path,
        env={**os.environ, "TFMCP_HOST_ARGS": json.dumps(arguments)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])

    # The call came back before the run ended; the app followed it through the host bridge.
    first = shown["first"]
    assert first["status"] in ("PENDING", "RUNNING")
    assert {"get_run", "get_steps"} <= set(shown["calls"])
    run = emulator.run(first["run_id"])
    assert run["status"] == "COMPLETED"

    # The live browser in a frame: the run's streaming_url, framed (the sandbox's origin is allowed).
    assert shown["frameSrc"] == run["streaming_url"]
    assert run["streaming_url"] == f"{emulator.base_url}/_live/{first['run_id']}/stream/0"
    assert shown["frameVisible"] and shown["link"] == run["streaming_url"]
    actions = [step["action"] for step in run["steps"]]
    assert len(actions) == 5
    assert [line.split(" · ")[0] for line in shown["steps"]] == actions
    assert shown["liveSteps"] == actions  # what the framed live view itself lists
    assert shown["status"] == "COMPLETED"
    assert shown["result"] == run["result"]
    assert shown["cost"] == "5 step(s), billed per step"
    assert shown["next"] == ""  # the RUNNING call's "call wait_for_run" is gone once the run ended
    assert not [line for line in shown["console"] if "error" in line.lower()], shown["console"]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
