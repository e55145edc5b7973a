"""A first run: one version everywhere, and a stdio server started in a terminal says what it waits for."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from _servers import clean_env

from tinyfish_mcp import __version__

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_stdio_on_a_terminal_says_it_waits_for_a_client() -> None:
    controller, terminal = pty.openpty()
    server = subprocess.Popen(
        [sys.executable, "-m", "tinyfish_mcp", "--sandbox"],
        env=clean_env(),
        stdin=terminal,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    try:
        assert server.stderr is not None
        seen = ""
        deadline = time.monotonic() + 60
        while "Ctrl+C" not in seen and time.monotonic() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            seen += line
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
        os.close(controller)
    assert "waiting for an MCP client" in seen
    assert "npx @modelcontextprotocol/inspector tinyfish-mcp --sandbox" in seen
    assert "tinyfish-mcp --help" in seen


def test_stdio_from_a_client_prints_no_hint(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tinyfish_mcp"],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "waiting for an MCP client" not in done.stderr


async def test_the_sandbox_can_be_chosen_by_environment() -> None:
    from _mcp import stdio_server

    async with stdio_server(None, api_key=None, env={"TINYFISH_SANDBOX": "true"}) as client:
        result = await client.call_tool("search", {"query": "web automation"})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["results"]
