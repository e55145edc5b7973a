"""stdio served by the event loop on pipes: many concurrent streamed calls on one pipe lose
nothing, lines of any length arrive whole, and a file (not a pipe) still works the SDK's way.

The server runs as a real subprocess; these tests write JSON-RPC lines on its stdin and
read its stdout themselves, the way an MCP client that starts it does.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _mcp import FAST_POLL, INITIALIZE, INITIALIZED, tool_call
from _servers import clean_env

CALLS = 200
SLOW = "https://shop.example.com/?tf_scenario=slow&tf_steps=2&tf_step_delay=0.2"
INIT = {**INITIALIZE, "id": "init"}


def _env(emulator: Any) -> dict[str, str]:
    env = clean_env()
    env.update(FAST_POLL)
    env.update({"TINYFISH_API_KEY": emulator.api_key, "TINYFISH_BASE_URL": emulator.base_url})
    return env


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


async def _serve(emulator: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tinyfish_mcp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=_env(emulator),
        limit=1 << 22,
    )


async def _answers(proc: asyncio.subprocess.Process, wanted: set[Any], seen: list[dict[str, Any]]) -> None:
    assert proc.stdout is not None
    while wanted:
        line = await proc.stdout.readline()
        assert line, "the server closed stdout before answering every request"
        message = json.loads(line)
        seen.append(message)
        if "method" not in message:
            wanted.discard(message.get("id"))


async def _finish(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def test_many_concurrent_streamed_runs_on_one_pipe_lose_nothing(emulator: Any) -> None:
    proc = await _serve(emulator)
    assert proc.stdin is not None
    seen: list[dict[str, Any]] = []
    try:
        proc.stdin.write(_line(INIT))
        await asyncio.wait_for(_answers(proc, {"init"}, seen), 30)
        calls = b"".join(
            _line(
                tool_call(
                    index,
                    "run_web_automation",
                    {"url": SLOW, "goal": f"Stream {index}", "max_wait_seconds": 120},
                    _meta={"progressToken": f"p{index}"},
                )
            )
            for index in range(CALLS)
        )
        proc.stdin.write(_line(INITIALIZED) + calls)  # all at once, more than a pipe holds
        await asyncio.wait_for(_answers(proc, set(range(CALLS)), seen), 90)
    finally:
        await _finish(proc)

    replies = {m["id"]: m for m in seen if "method" not in m and isinstance(m.get("id"), int)}
    assert sorted(replies) == list(range(CALLS))
    run_ids: set[str] = set()
    for reply in replies.values():
        result = reply["result"]
        assert not result.get("isError"), result
        assert result["structuredContent"]["status"] == "COMPLETED"
        run_ids.add(result["structuredContent"]["run_id"])
    created = [r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/run-sse")]
    # Nothing lost: every run created upstream came back to its caller, once.
    assert len(created) == CALLS
    assert len(run_ids) == CALLS
    progress: dict[str, list[float]] = {}
    for message in seen:
        if message.get("method") == "notifications/progress":
            params = message["params"]
            progress.setdefault(params["progressToken"], []).append(params["progress"])
    assert sorted(progress) == sorted(f"p{index}" for index in range(CALLS))
    for values in progress.values():
        # STARTED, the live view's URL and both steps at least (heartbeats come on top).
        assert len(values) >= 4
        assert values == sorted(set(values))


async def test_a_line_longer_than_a_pipe_read_arrives_whole_and_the_wire_is_kept_apart(emulator: Any) -> None:
    proc = await _serve(emulator)
    assert proc.stdin is not None
    seen: list[dict[str, Any]] = []
    padding = "x" * 300_000
    big = {"jsonrpc": "2.0", "id": "big", "method": "ping", "params": {"_meta": {"pad": padding}}}
    try:
        proc.stdin.write(_line(INIT) + _line(INITIALIZED) + _line(big))
        proc.stdin.write(_line({"jsonrpc": "2.0", "id": "after", "method": "ping"}))
        await asyncio.wait_for(_answers(proc, {"init", "big", "after"}, seen), 30)
        # While serving, fd 0 reads the null device and fd 1 writes where stderr goes (here
        # the null device too): stray output of a library cannot reach the wire.
        assert os.readlink(f"/proc/{proc.pid}/fd/0") == os.devnull
        assert os.readlink(f"/proc/{proc.pid}/fd/1") == os.devnull
    finally:
        await _finish(proc)
    answered = {m.get("id"): m for m in seen}
    assert answered["big"]["result"] == {}
    assert answered["after"]["result"] == {}


def test_a_file_for_stdout_is_still_served(emulator: Any, tmp_path: Path) -> None:
    """stdout a regular file (not a pipe): the SDK's own path serves it."""
    answers = tmp_path / "out.jsonl"
    with answers.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tinyfish_mcp"],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=_env(emulator),
        )
    assert proc.stdin is not None
    try:
        proc.stdin.write(
            _line(INIT)
            + _line(INITIALIZED)
            + _line({"jsonrpc": "2.0", "id": "tools", "method": "tools/list"})
        )
        proc.stdin.flush()
        replies: dict[Any, Any] = {}
        deadline = time.monotonic() + 30
        while "tools" not in replies and time.monotonic() < deadline:
            time.sleep(0.05)
            text = answers.read_text()
            whole = text[: text.rfind("\n") + 1].splitlines()  # a line being written waits
            replies = {m.get("id"): m for m in map(json.loads, whole)}
    finally:
        proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert {"init", "tools"} <= set(replies)
    assert any(tool["name"] == "run_web_automation" for tool in replies["tools"]["result"]["tools"])
