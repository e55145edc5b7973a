"""session_id over stdio survives kill -9 and a restart: the retry follows the run, one run upstream.

Desktop clients restart their servers often. The server is a real process spoken to over its
pipes; it is killed with SIGKILL while the run goes on (nothing of it can run at exit), a new
process is started with the same state directory, and the same call with the same session_id
is sent again. The emulator's request log counts the runs created.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _mcp import INITIALIZE, tool_call
from _servers import clean_env

SLOW_URL = "https://shop.example.com/?tf_scenario=slow&tf_steps=30&tf_step_delay=0.1"
CREATES = ("/v1/automation/run-sse", "/v1/automation/run-async")


@contextmanager
def _server(emulator: Any, state: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **clean_env(),
        "TINYFISH_API_KEY": emulator.api_key,
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_MCP_STATE_DIR": str(state),
    }
    with subprocess.Popen(
        [sys.executable, "-m", "tinyfish_mcp"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            _send(process, INITIALIZE)
            _read_until(process, lambda m: m.get("id") == 1)
            _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def _send(process: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()


def _read_until(process: subprocess.Popen[bytes], wanted: Any, seconds: float = 60) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        ready, _, _ = select.select([process.stdout], [], [], seconds)
        assert ready, "the server said nothing"
        message: dict[str, Any] = json.loads(process.stdout.readline())
        if wanted(message):
            return message


def _call(session_id: str, ident: int, wait: int) -> dict[str, Any]:
    arguments = {"url": SLOW_URL, "goal": "List products", "session_id": session_id, "max_wait_seconds": wait}
    return tool_call(ident, "run_web_automation", arguments, _meta={"progressToken": "p"})


def test_a_retry_after_kill_9_and_a_restart_follows_the_same_run(emulator: Any, tmp_path: Path) -> None:
    session_id = str(uuid.uuid4())
    with _server(emulator, tmp_path) as first:
        _send(first, _call(session_id, 2, 120))
        started = _read_until(
            first,
            lambda m: (
                m.get("method") == "notifications/progress"
                and str(m["params"].get("message", "")).startswith("Run ")
            ),
        )
        run_id = started["params"]["message"].split()[1]
        first.send_signal(signal.SIGKILL)  # the client gave up and its server is gone, mid-run
        first.wait()
    with _server(emulator, tmp_path) as second:
        _send(second, _call(session_id, 2, 60))
        answer = _read_until(second, lambda m: m.get("id") == 2, seconds=60)
    body = json.loads(answer["result"]["content"][0]["text"])
    assert body["run_id"] == run_id and body["status"] == "COMPLETED"
    assert len([r for r in emulator.requests() if r["path"] in CREATES]) == 1
    # The file holds digests only: no key.
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert emulator.api_key.encode() not in stored
