"""What a stdio start-up imports: the path a desktop client waits for on every launch.

The server is started as a client starts it (``python -m tinyfish_mcp``, default toolsets),
asked ``initialize`` and ``tools/list``, and its ``-X importtime`` log says every module it
imported by then. None of :data:`HEAVY` may be among them: each is either slow to import
or needed only by another mode, a call, or an opt-in toolset (the reason is beside it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

from _mcp import INITIALIZE, INITIALIZED
from _servers import clean_env

from tinyfish_mcp.cli import build_parser, no_arguments
from tinyfish_mcp.server import TOOLSETS
from tinyfish_mcp.settings import DEFAULT_TOOLSETS

HEAVY: dict[str, str] = {
    # Hosted mode only: stdio keeps its state in memory and has no sign-in.
    "sqlalchemy": "the hosted server's database",
    "aiosqlite": "the hosted server's database",
    "asyncpg": "the hosted server's database",
    "alembic": "database migrations",
    "joserfc": "JWT sign-in for the hosted server",
    "jwt": "JWT sign-in for the hosted server",
    "redis": "shared rate limits between replicas",
    "prometheus_client": "the hosted server's /metrics",
    "tinyfish_mcp.http": "the hosted server",
    "tinyfish_mcp.auth": "the hosted server's sign-in and stores",
    "tinyfish_mcp.emulator": "--sandbox only",
    "tinyfish_mcp.doctor": "the doctor command",
    # The other commands: a bare launch does not build the argument parser (cli.no_arguments).
    "tinyfish_mcp.admin": "the admin command",
    "tinyfish_mcp.db": "the db command",
    "tinyfish_mcp.install": "the install command",
    "tinyfish_mcp.clients": "the install and doctor commands",
    # The settings are read without these (a tenth of the cold start when they were used).
    "pydantic_settings": "replaced by a few lines in settings.py",
    "dotenv": "replaced by a few lines in settings.py",
    # A second HTTP stack beside the SDK's own httpx2.
    "httpx": "the upstream client uses the SDK's httpx2",
    "httpcore": "the upstream client uses the SDK's httpx2",
    "httpx_sse": "the upstream client uses the SDK's httpx2",
    # A call needs these, the start does not.
    "tinyfish_mcp.upstream._http": "the upstream client is created on the first call",
    "tinyfish_mcp.upstream.sse": "read only by a streamed run",
    "tinyfish_mcp.upstream.cdp": "read only by browser tools that drive a session",
    # Payload models: the tools are listed from the precomputed schemas, nothing is sent or read.
    "tinyfish_mcp.upstream.models.runs": "the first call that sends or reads a run",
    "tinyfish_mcp.upstream.models.products": "the first fetch, search, browser or vault call",
    "tinyfish_mcp.upstream.models.events": "a streamed run",
    "tinyfish_mcp.upstream.wallet": "get_wallet (the top-up URL is a constant)",
    "sqlite3": "the session_id file is opened on the first claim",
    "difflib": "a refused call's did-you-mean",
    "trafilatura": "Browserbase fetch's page extraction",
    "lxml": "Browserbase fetch's page extraction",
    # Development and test dependencies: never needed at run time.
    "tinyfish": "the official SDK (tests use it as a second client)",
    "browserbase": "Browserbase's official SDK (tests)",
    "playwright": "tests drive real browsers with it",
    "jsonschema": "tests",
    "hypothesis": "tests",
    "openai": "tests",
    "google": "tests",
}
# Opt-in toolsets (not enabled by default) and the product APIs they call.
for _name in set(TOOLSETS) - set(DEFAULT_TOOLSETS):
    HEAVY[f"tinyfish_mcp.toolsets.{TOOLSETS[_name]}"] = "an opt-in toolset"
    HEAVY[f"tinyfish_mcp.upstream.{_name}"] = "the product API of an opt-in toolset"

_IMPORT = re.compile(r"^import time:\s+\d+\s*\|\s*\d+\s*\|\s*(\S+)\s*$")


def _send(stdin: Any, message: dict[str, Any]) -> None:
    stdin.write(json.dumps(message) + "\n")
    stdin.flush()


def _read_reply(stdout: Any, ident: int, timeout: float = 60.0) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def read() -> None:
        for line in stdout:
            message = json.loads(line)
            if message.get("id") == ident:
                found.update(message)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found, f"no reply to request {ident}"
    return found


def test_a_stdio_start_imports_nothing_heavy() -> None:
    env = clean_env("BROWSERBASE_")
    # An address nothing listens on: the start must not reach the network anyway.
    env.update(TINYFISH_API_KEY="sk-tinyfish-startup", TINYFISH_BASE_URL="http://127.0.0.1:9")
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "tinyfish_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        _send(proc.stdin, INITIALIZE)
        assert "result" in _read_reply(proc.stdout, 1)
        _send(proc.stdin, INITIALIZED)
        _send(proc.stdin, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = _read_reply(proc.stdout, 2)["result"]["tools"]
    finally:
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    log = proc.stderr.read()
    proc.stderr.close()
    proc.stdout.close()
    assert "get_run" in {tool["name"] for tool in tools}
    imported = {match.group(1) for line in log.splitlines() if (match := _IMPORT.match(line))}
    assert "tinyfish_mcp.server" in imported, "no -X importtime log"
    heavy = sorted(
        f"{module} ({HEAVY[root]})"
        for module in imported
        for root in HEAVY
        if module == root or module.startswith(root + ".")
    )
    assert heavy == []


def test_a_bare_launch_gets_the_parser_s_defaults_without_building_it() -> None:
    assert no_arguments() == build_parser().parse_args([])


def test_the_command_starts_with_the_collector_off_like_python_dash_m() -> None:
    """``tinyfish-mcp`` runs ``__main__.main``: the collector is off before the first import."""
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["tinyfish-mcp"] == "tinyfish_mcp.__main__:main"


def test_the_collector_is_back_on_once_the_start_up_heap_is_settled() -> None:
    """The stdio command starts with the cyclic collector off (cli._serve_stdio); serving turns it on."""
    import gc

    from tinyfish_mcp.gctune import YOUNG_THRESHOLD, settle_heap

    default = gc.get_threshold()
    gc.disable()
    try:
        settle_heap()
        assert gc.isenabled()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*default)
