"""``tinyfish-mcp http --workers N``: N processes on one socket, each a whole stateless replica."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mcp import result_json
from _servers import clean_env, free_port
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tinyfish_mcp.http.serving import worker_count
from tinyfish_mcp.settings import Settings


def _workers(pid: int) -> set[int]:
    """Live worker processes of ``pid`` (spawned interpreters, not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def _server(*args: str, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    clean = clean_env()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tinyfish_mcp", "http", "--port", str(port), *args],
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


async def test_two_workers_serve_tools_and_stop_together(emulator: Any) -> None:
    env = {"TINYFISH_BASE_URL": emulator.base_url, "TINYFISH_API_KEY": emulator.api_key}
    with _server("--auth", "none", "--workers", "2", env=env) as (proc, url):
        deadline = time.monotonic() + 30
        while len(_workers(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = _workers(proc.pid)
        assert len(workers) == 2
        for _ in range(4):
            async with Client(streamable_http_client(f"{url}/mcp")) as client:
                listed = result_json(await client.call_tool("list_runs", {"limit": 1}))
            assert "runs" in listed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    # The supervisor waits for its workers before it exits.
    assert not [pid for pid in workers if _alive(pid)]


def test_stateful_sessions_refuse_several_workers(emulator: Any) -> None:
    env = {"TINYFISH_BASE_URL": emulator.base_url, "TINYFISH_MCP_STATELESS": "false"}
    out = subprocess.run(
        [sys.executable, "-m", "tinyfish_mcp", "http", "--auth", "none", "--workers", "2", "--port", "0"],
        env={**clean_env(), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "Mcp-Session-Id" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"mcp_workers": 3}, 3),
        ({"mcp_auth": "none"}, 1),
        ({"mcp_auth": "oauth", "mcp_stateless": False}, 1),
        ({"mcp_auth": "oauth"}, os.cpu_count() or 1),
    ],
)
def test_worker_count(values: dict[str, Any], expected: int) -> None:
    assert worker_count(Settings(**values)) == expected
