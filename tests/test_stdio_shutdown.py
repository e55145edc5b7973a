"""Graceful shutdown on stdio: stdin closed, SIGTERM or SIGINT name every in-flight run.

The protocol is driven by hand over the server's pipes (the SDK's client can neither
signal its server nor keep reading once it closed stdin), against the emulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pytest
from _mcp import INITIALIZE, result_json, stdio_server, tool_call
from _servers import clean_env

from tinyfish_mcp.stdio_shutdown import ANSWER_SECONDS

# The run lasts about 8 s: longer than the grace, well within the call window.
SLOW_URL = "https://shop.example.com/?tf_scenario=slow&tf_steps=40&tf_step_delay=0.2"
GRACE = 1.0
# Only a guard against a hung process: the bound is the grace plus the answer time.
EXIT_GUARD = GRACE + ANSWER_SECONDS + 20


class _Pipes:
    """A ``tinyfish-mcp`` process spoken to line by line; its stderr is kept in a file."""

    def __init__(self, process: subprocess.Popen[str], errlog: IO[str]) -> None:
        self.process = process
        self.errlog = errlog
        self.lines: list[dict[str, Any]] = []
        self.log = ""  # stderr, kept when the process is gone

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def read_until(self, wanted: Any, seconds: float = 60) -> dict[str, Any]:
        """The first message from the server that ``wanted(message)`` accepts."""
        found: list[dict[str, Any]] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                message = json.loads(line)
                self.lines.append(message)
                if wanted(message):
                    found.append(message)
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(seconds)
        assert found, f"no such message; got {self.lines[-5:]}\n{self.stderr()}"
        return found[0]

    def stderr(self) -> str:
        if not self.errlog.closed:
            self.errlog.seek(0)
            self.log = self.errlog.read()
        return self.log

    def wait_log(self, text: str, seconds: float = 30) -> None:
        waited = threading.Event()
        for _ in range(int(seconds * 20)):
            if text in self.stderr():
                return
            waited.wait(0.05)
        raise AssertionError(f"{text!r} never logged:\n{self.stderr()}")


@contextmanager
def _server(emulator: Any, grace: float = GRACE, *, handshake: bool = True) -> Iterator[_Pipes]:
    clean = clean_env()
    env = {
        **clean,
        "TINYFISH_API_KEY": emulator.api_key,
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_MCP_STDIO_SHUTDOWN_GRACE_SECONDS": str(grace),
        "TINYFISH_MCP_LOG_LEVEL": "INFO",
    }
    with (
        tempfile.TemporaryFile("w+") as errlog,
        subprocess.Popen(
            [sys.executable, "-m", "tinyfish_mcp"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            text=True,
        ) as process,
    ):
        pipes = _Pipes(process, errlog)
        try:
            if handshake:
                pipes.send(INITIALIZE)
                pipes.read_until(lambda m: m.get("id") == 1)
                pipes.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            yield pipes
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            pipes.stderr()


def _start_slow_run(pipes: _Pipes, meta: dict[str, Any] | None = None) -> str:
    """Call run_web_automation on a slow run; the run's id, once progress names it."""
    arguments = {"url": SLOW_URL, "goal": "List products", "max_wait_seconds": 120}
    pipes.send(tool_call(2, "run_web_automation", arguments, _meta={"progressToken": "run", **(meta or {})}))
    started = pipes.read_until(
        lambda m: (
            m.get("method") == "notifications/progress"
            and str(m["params"].get("message", "")).startswith("Run ")
        )
    )
    run_id: str = started["params"]["message"].split()[1]
    return run_id


async def _finished_elsewhere(emulator: Any, run_id: str) -> None:
    """The run went on upstream: a second server follows it to its end."""
    assert emulator.run(run_id)["status"] == "RUNNING"
    assert not emulator.run(run_id).get("cancel_requested")
    async with stdio_server(emulator) as client:
        done = result_json(await client.call_tool("wait_for_run", {"run_id": run_id, "max_wait_seconds": 60}))
    assert done["run_id"] == run_id
    assert done["status"] == "COMPLETED"


# The 2026-07-28 era has no handshake: each request carries the protocol version.
_MODERN = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.mark.parametrize("modern", [False, True], ids=["handshake-era", "2026-era"])
async def test_stdin_closed_answers_the_run_with_its_id_and_exits_0(emulator: Any, modern: bool) -> None:
    with _server(emulator, handshake=not modern) as pipes:
        run_id = _start_slow_run(pipes, _MODERN if modern else None)
        assert pipes.process.stdin is not None
        pipes.process.stdin.close()
        answer = pipes.read_until(lambda m: m.get("id") == 2)
        assert pipes.process.wait(timeout=EXIT_GUARD) == 0
    result = answer["result"]["structuredContent"]
    assert result["run_id"] == run_id
    assert result["status"] == "RUNNING"
    assert "stdin closed: shutting down; 1 call(s) in flight" in pipes.stderr()
    await _finished_elsewhere(emulator, run_id)


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_answers_the_run_refuses_new_requests_and_exits_0(
    emulator: Any, signum: signal.Signals
) -> None:
    # A long grace: the run is answered because the signal came twice (as from the SDK's
    # client, which signals a server that is slow to exit after stdin closed).
    with _server(emulator, grace=600) as pipes:
        run_id = _start_slow_run(pipes)
        pipes.process.send_signal(signum)
        pipes.wait_log(f"{signum.name} received: shutting down; 1 call(s) in flight")
        pipes.send({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
        refused = pipes.read_until(lambda m: m.get("id") == 3)
        pipes.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
        pong = pipes.read_until(lambda m: m.get("id") == 4)
        pipes.process.send_signal(signum)
        answer = pipes.read_until(lambda m: m.get("id") == 2)
        # stdin stays open: the process ends by itself.
        assert pipes.process.wait(timeout=EXIT_GUARD) == 0
    assert refused["error"]["code"] == -32000
    assert "shutting down" in refused["error"]["message"]
    assert pong["result"] == {}
    result = answer["result"]["structuredContent"]
    assert result["run_id"] == run_id
    assert result["status"] == "RUNNING"
    await _finished_elsewhere(emulator, run_id)


@pytest.mark.skipif(os.name != "posix", reason="signals")
async def test_sigterm_waits_out_the_grace_then_answers(emulator: Any) -> None:
    with _server(emulator) as pipes:
        run_id = _start_slow_run(pipes)
        pipes.process.send_signal(signal.SIGTERM)
        answer = pipes.read_until(lambda m: m.get("id") == 2)
        assert pipes.process.wait(timeout=EXIT_GUARD) == 0
    assert answer["result"]["structuredContent"]["run_id"] == run_id
    assert answer["result"]["structuredContent"]["status"] == "RUNNING"
    assert "grace period over: 1 call(s) answer now" in pipes.stderr()
    await _finished_elsewhere(emulator, run_id)


def test_nothing_in_flight_exits_at_once_whatever_the_grace(emulator: Any) -> None:
    # A grace of ten minutes, and an exit well within the guard: nothing waited for it.
    with _server(emulator, grace=600) as pipes:
        pipes.send(tool_call(2, "list_runs", {}))
        listed = pipes.read_until(lambda m: m.get("id") == 2)
        assert pipes.process.stdin is not None
        pipes.process.stdin.close()
        assert pipes.process.wait(timeout=EXIT_GUARD) == 0
    assert "result" in listed
    assert "stdin closed: shutting down" in pipes.stderr()
    assert "in flight" not in pipes.stderr()


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_a_call_still_going_after_the_last_answers_is_cut_with_an_error_saying_so(emulator: Any) -> None:
    emulator.fault("/v1/runs", method="GET", hang=True)  # list_runs never gets its answer
    with _server(emulator, grace=600) as pipes:
        pipes.send(tool_call(2, "list_runs", {}))
        waited = threading.Event()
        for _ in range(600):  # the call is in flight: its request reached the emulator
            if any(r["path"] == "/v1/runs" for r in emulator.requests()):
                break
            waited.wait(0.05)
        pipes.process.send_signal(signal.SIGTERM)
        pipes.wait_log("SIGTERM received: shutting down; 1 call(s) in flight")
        pipes.process.send_signal(signal.SIGTERM)  # no more grace
        cut = pipes.read_until(lambda m: m.get("id") == 2)
        assert pipes.process.wait(timeout=EXIT_GUARD) == 0
    assert cut["error"]["code"] == -32000
    assert "shut down before this call finished" in cut["error"]["message"]
    assert "list_runs" in cut["error"]["message"]
