"""The client configurations in manifests/ launch our server with real settings.

Every JSON manifest is parsed; each stdio entry must start ``tinyfish-mcp`` (directly
or through uvx), every environment variable it sets must be a real setting, and each
HTTP entry must point at the server's ``/mcp`` endpoint. ``claude-code.sh`` is run
against a stand-in ``claude`` command that records its arguments, and two stdio entries
are started exactly as a client would start them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tinyfish_mcp.settings import Settings

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"
JSON_FILES = sorted(MANIFESTS.rglob("*.json"))
SETTING_NAMES = {f"TINYFISH_{name.upper()}" for name in Settings.model_fields}
HTTP_URL = "http://127.0.0.1:8000/mcp"


def _servers(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The server entries: ``mcpServers`` for most clients, ``servers`` for VS Code."""
    servers = document.get("mcpServers", document.get("servers"))
    assert isinstance(servers, dict) and servers, "no mcpServers/servers object"
    return servers


def test_every_client_has_a_stdio_and_an_http_manifest() -> None:
    names = {p.relative_to(MANIFESTS).as_posix() for p in JSON_FILES}
    for client in ("claude_desktop_config", "cursor-mcp", "windsurf-mcp_config", "vscode-mcp"):
        assert f"{client}.json" in names
        assert f"http/{client}.json" in names
    assert (MANIFESTS / "README.md").is_file()


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.relative_to(MANIFESTS).as_posix())
def test_manifest_entries_launch_tinyfish_mcp(path: Path) -> None:
    document = json.loads(path.read_text())
    vscode = path.name.startswith("vscode")
    for name, entry in _servers(document).items():
        assert name.startswith("tinyfish")
        if vscode:
            assert entry["type"] in ("stdio", "http"), "VS Code entries need a type"
        command = entry.get("command")
        if command is None:
            url = entry.get("url", entry.get("serverUrl"))
            assert url == HTTP_URL, f"{name}: neither a command nor the /mcp URL"
            continue
        args = entry.get("args", [])
        assert isinstance(args, list) and all(isinstance(a, str) for a in args)
        if command == "tinyfish-mcp":
            assert set(args) <= {"--sandbox"}
        elif command == "uvx":
            assert args == ["tinyfish-mcp"]
        else:
            # The HTTP bridge for clients that only speak stdio.
            assert command == "npx" and args == ["-y", "mcp-remote", HTTP_URL], f"{name}: unknown command"
        env = entry.get("env", {})
        unknown = set(env) - SETTING_NAMES
        assert not unknown, f"{name}: {sorted(unknown)} are not settings"
        if command in ("tinyfish-mcp", "uvx") and "--sandbox" not in args:
            assert "TINYFISH_API_KEY" in env


def test_vscode_manifest_prompts_for_the_key() -> None:
    document = json.loads((MANIFESTS / "vscode-mcp.json").read_text())
    (prompt,) = document["inputs"]
    assert prompt["password"] is True
    assert document["servers"]["tinyfish"]["env"]["TINYFISH_API_KEY"] == f"${{input:{prompt['id']}}}"


@pytest.fixture
def fake_claude(tmp_path: Path) -> tuple[Path, Path]:
    """A ``claude`` command on PATH that writes its arguments, one per line, to a file."""
    record = tmp_path / "claude-args.txt"
    script = tmp_path / "bin" / "claude"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script.parent, record


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("stdio", ["--env", "TINYFISH_API_KEY=sk-test", "tinyfish", "--", "tinyfish-mcp"]),
        ("uvx", ["--env", "TINYFISH_API_KEY=sk-test", "tinyfish", "--", "uvx", "tinyfish-mcp"]),
        ("http", ["--transport", "http", "--scope", "local", "tinyfish", HTTP_URL]),
        ("sandbox", ["tinyfish-sandbox", "--", "tinyfish-mcp", "--sandbox"]),
    ],
)
def test_claude_code_script(fake_claude: tuple[Path, Path], mode: str, expected: list[str]) -> None:
    bin_dir, record = fake_claude
    bash = shutil.which("bash")
    assert bash is not None
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "TINYFISH_API_KEY": "sk-test"}
    subprocess.run([bash, str(MANIFESTS / "claude-code.sh"), mode], env=env, check=True, timeout=10)  # noqa: S603
    args = record.read_text().splitlines()
    assert args[:2] == ["mcp", "add"]
    joined = "\n".join(args)
    assert "\n".join(expected) in joined


def test_claude_code_script_needs_a_key(fake_claude: tuple[Path, Path]) -> None:
    bin_dir, record = fake_claude
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run(  # noqa: S603
        [bash, str(MANIFESTS / "claude-code.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 1
    assert "TINYFISH_API_KEY" in done.stderr
    assert not record.exists()


def _launch(entry: dict[str, Any], env: dict[str, str]) -> StdioServerParameters:
    """The manifest's command as the client would start it, from this virtualenv's bin/."""
    command = shutil.which(entry["command"], path=str(Path(sys.executable).parent))
    assert command is not None, f"{entry['command']} is not installed in this environment"
    return StdioServerParameters(command=command, args=entry.get("args", []), env=env)


async def test_claude_desktop_manifest_starts_a_working_server(emulator: Any) -> None:
    """The stdio entry, exactly as written (key and base URL pointed at the emulator)."""
    entry = json.loads((MANIFESTS / "claude_desktop_config.json").read_text())["mcpServers"]["tinyfish"]
    env = {**entry["env"], "TINYFISH_API_KEY": emulator.api_key, "TINYFISH_BASE_URL": emulator.base_url}
    async with Client(stdio_client(_launch(entry, env))) as client:
        result = await client.call_tool("list_vault_items", {})
    assert not result.is_error
    assert result.structured_content is not None and len(result.structured_content["items"]) == 3


async def test_sandbox_manifest_works_offline_without_a_key() -> None:
    entry = json.loads((MANIFESTS / "claude_desktop_config.sandbox.json").read_text())["mcpServers"][
        "tinyfish-sandbox"
    ]
    async with Client(stdio_client(_launch(entry, {}))) as client:
        result = await client.call_tool("search", {"query": "web automation tools"})
    assert not result.is_error
    assert result.structured_content is not None and result.structured_content["results"]
