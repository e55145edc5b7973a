"""``tinyfish-mcp doctor`` against the emulator: a good key, a bad key, an unreachable API, client files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from _servers import clean_env

from tinyfish_mcp.doctor import clock_skew


def _doctor(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = clean_env("XDG_")
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tinyfish_mcp", "doctor", *args],
        env={**clean, "HOME": str(home), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _lines(done: subprocess.CompletedProcess[str], status: str) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith(status)]


def _install(home: Path, client: str, key: str) -> None:
    clean = clean_env("XDG_")
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tinyfish_mcp", "install", client],
        env={**clean, "HOME": str(home), "TINYFISH_API_KEY": key},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
        timeout=60,
    )


def test_good_key_and_installed_client(tmp_path: Path, emulator: Any) -> None:
    _install(tmp_path, "cursor", emulator.api_key)
    done = _doctor(
        tmp_path,
        TINYFISH_API_KEY=emulator.api_key,
        TINYFISH_BASE_URL=emulator.base_url,
        TINYFISH_MCP_TOOLSETS="agent,runs",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _lines(done, "FAIL") == []
    ok = "\n".join(_lines(done, "ok"))
    assert "tinyfish-mcp " in ok and "mcp 2." in ok
    assert "127.0.0.1 resolves to 127.0.0.1" in ok
    assert f"{emulator.base_url} answers (HTTP" in ok and "clock:" in ok
    assert "API key accepted" in ok
    assert f"cursor: 'tinyfish' in {tmp_path}/.cursor/mcp.json starts /" in ok
    assert "toolsets enabled: agent, runs" in ok
    assert emulator.api_key not in done.stdout + done.stderr
    # One authenticated call, and a cheap one.
    assert [(r["method"], r["path"]) for r in emulator.requests()] == [("GET", "/v1/runs")]


def test_bad_key_fails_with_the_fix(tmp_path: Path, emulator: Any) -> None:
    done = _doctor(tmp_path, TINYFISH_API_KEY="sk-tinyfish-wrong", TINYFISH_BASE_URL=emulator.base_url)
    assert done.returncode == 1
    (failure,) = _lines(done, "FAIL")
    assert "TinyFish refused the API key (HTTP 401)" in failure
    assert "fix: copy the key again from https://agent.tinyfish.ai/api-keys" in done.stdout
    assert "sk-tinyfish-wrong" not in done.stdout + done.stderr


def test_unreachable_base_url(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens there once the socket is closed.
    done = _doctor(tmp_path, TINYFISH_API_KEY="sk-tinyfish-x", TINYFISH_BASE_URL=f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    failures = "\n".join(_lines(done, "FAIL"))
    assert f"http://127.0.0.1:{port} is not reachable (ConnectError" in failures
    assert "the API key was not checked" in failures
    assert "fix: check your network" in done.stdout
    assert "Traceback" not in done.stderr


def test_no_key_and_a_client_whose_command_is_gone(tmp_path: Path, emulator: Any) -> None:
    config = tmp_path / ".codeium" / "windsurf" / "mcp_config.json"
    config.parent.mkdir(parents=True)
    gone = {"command": str(tmp_path / "old-venv" / "bin" / "tinyfish-mcp"), "args": []}
    config.write_text(json.dumps({"mcpServers": {"tinyfish": gone, "other": {"command": "nope"}}}))
    done = _doctor(tmp_path, TINYFISH_BASE_URL=emulator.base_url)
    assert done.returncode == 1
    failures = "\n".join(_lines(done, "FAIL"))
    assert "no API key: TINYFISH_API_KEY is not set" in failures
    assert "windsurf: 'tinyfish'" in failures and "which does not exist" in failures
    assert "'other'" not in done.stdout  # someone else's server is none of our business
    assert "fix: run `tinyfish-mcp install windsurf` again" in done.stdout


def test_sandbox_needs_no_key(tmp_path: Path) -> None:
    done = _doctor(tmp_path, "--sandbox")
    assert done.returncode == 0, done.stdout
    assert "API key accepted" in done.stdout
    assert "warn  no MCP client configuration mentions tinyfish-mcp" in done.stdout


@pytest.mark.parametrize(
    ("offset", "status"),
    [(0, "ok"), (45, "warn"), (-45, "warn"), (600, "FAIL"), (-600, "FAIL")],
)
def test_clock_skew_from_the_date_header(offset: int, status: str) -> None:
    local = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    remote = format_datetime(local - timedelta(seconds=offset), usegmt=True)
    check = clock_skew("https://agent.tinyfish.ai", remote, local)
    assert check.status == status
    assert f"{abs(offset)} s" in check.what
    if status == "FAIL":
        assert "NTP" in check.fix


def test_a_missing_or_broken_date_header_is_a_warning() -> None:
    local = datetime(2026, 1, 1, tzinfo=UTC)
    assert clock_skew("https://x", None, local).status == "warn"
    assert clock_skew("https://x", "yesterday-ish", local).status == "warn"
