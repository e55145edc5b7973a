"""Smoke test of an installed tinyfish-mcp, run by the interpreter of a fresh virtual environment.

``.ci/package.py`` builds the wheel, installs it into a new venv and runs this file with
that venv's Python from a directory outside the checkout, so that only the installed
package is importable. It checks what a user's first run needs: the console script and
its ``--version``, an MCP ``initialize`` (server name and version), ``tools/list``, one
tool call against the sandbox, and the emulator's data files inside the package.

Usage: python smoke.py EXPECTED_VERSION
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client


def fail(message: str) -> None:
    raise SystemExit(f"smoke: FAILED: {message}")


def check_install(expected: str) -> Path:
    import tinyfish_mcp

    location = Path(tinyfish_mcp.__file__).resolve()
    if Path(sys.prefix).resolve() not in location.parents:
        fail(f"imported tinyfish_mcp from {location}, not from the installed wheel in {sys.prefix}")
    if tinyfish_mcp.__version__ != expected:
        fail(f"tinyfish_mcp.__version__ is {tinyfish_mcp.__version__}, the wheel is {expected}")
    if importlib.metadata.version("tinyfish-mcp") != expected:
        fail(f"the installed distribution says {importlib.metadata.version('tinyfish-mcp')}")
    data = importlib.resources.files("tinyfish_mcp.emulator") / "data"
    names = sorted(p.name for p in data.iterdir())
    for needed in ("article.html", "search_corpus.json"):
        if needed not in names:
            fail(f"emulator data file {needed} is missing from the wheel (found {names})")
    print(f"smoke: tinyfish_mcp {expected} installed at {location.parent}; emulator data: {', '.join(names)}")
    exe = Path(sys.executable).parent / "tinyfish-mcp"
    if not exe.exists():
        fail(f"the console script {exe} was not installed")
    return exe


def check_version_flag(exe: Path, expected: str) -> None:
    done = subprocess.run(  # noqa: S603 - the script we just installed
        [str(exe), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0 or done.stdout.strip() != f"tinyfish-mcp {expected}":
        fail(f"`tinyfish-mcp --version` printed {done.stdout!r} {done.stderr!r}")


async def check_protocol(exe: Path, expected: str) -> None:
    params = StdioServerParameters(command=str(exe), args=["--sandbox"], env={"PATH": "/usr/bin:/bin"})
    async with Client(stdio_client(params)) as client:
        info = client.server_info
        if info.name != "tinyfish" or info.version != expected:
            fail(f"initialize returned serverInfo {info.name} {info.version}")
        tools = (await client.list_tools()).tools
        names = {tool.name for tool in tools}
        for needed in ("run_web_automation", "get_run", "list_runs", "search", "fetch_content"):
            if needed not in names:
                fail(f"tools/list lacks {needed}")
        result = await client.call_tool("search", {"query": "web automation"})
        if result.is_error or not (result.structured_content or {}).get("results"):
            fail(f"search in the sandbox failed: {result.content}")
    print(
        f"smoke: initialize ({info.name} {info.version}), tools/list ({len(tools)} tools), "
        "search in the sandbox: ok"
    )


def main() -> int:
    expected = sys.argv[1]
    exe = check_install(expected)
    check_version_flag(exe, expected)
    anyio.run(check_protocol, exe, expected)
    print("smoke: the installed wheel works")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
