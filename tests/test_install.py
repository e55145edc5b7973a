"""``tinyfish-mcp install``: every client, against a temporary home directory, then the written command runs.

Each test runs the real command (``python -m tinyfish_mcp install ...``) with ``HOME``
pointed at a temporary directory, reads the file it wrote, and starts the server entry
exactly as the client would (only the base URL is pointed at the test emulator).
"""

from __future__ import annotations

import base64
import json
import os
import pty
import stat
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import unquote

import pytest
from _servers import clean_env
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tinyfish_mcp.clients import PUBLIC_LAUNCH, config_path
from tinyfish_mcp.install import install_link

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-tinyfish-emulator"
FILE_CLIENTS = ("claude-desktop", "cursor", "windsurf", "vscode")
OTHER = {"command": "other-server", "args": ["--flag"], "env": {"OTHER_TOKEN": "keep-me"}}


def _env(home: Path, **extra: str) -> dict[str, str]:
    clean = clean_env("XDG_", "APPDATA")
    return {**clean, "HOME": str(home), **extra}


def _install(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tinyfish_mcp", "install", *args],
        env=_env(home, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _path(client: str, home: Path) -> Path:
    return Path(config_path(client, home=home, platform=sys.platform, env={}))  # type: ignore[arg-type]


def _servers(client: str, document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = document["servers" if client == "vscode" else "mcpServers"]
    return result


async def _call_entry(entry: dict[str, Any], emulator: Any, key: str | None) -> Any:
    """Start the entry's command as a client would; list vault items through it."""
    env = {k: (key if "${input:" in v else v) for k, v in entry.get("env", {}).items()}
    env = {k: v for k, v in env.items() if v is not None}
    env["TINYFISH_BASE_URL"] = emulator.base_url
    params = StdioServerParameters(command=entry["command"], args=entry.get("args", []), env=env)
    async with Client(stdio_client(params)) as client:
        return await client.call_tool("list_vault_items", {})


@pytest.mark.parametrize("client", FILE_CLIENTS)
async def test_install_merges_into_an_existing_file_and_the_entry_runs(
    client: str, tmp_path: Path, emulator: Any
) -> None:
    path = _path(client, tmp_path)
    path.parent.mkdir(parents=True)
    original = {"servers" if client == "vscode" else "mcpServers": {"other": OTHER}, "theme": "dark"}
    path.write_text(json.dumps(original, indent=4))
    path.chmod(0o644)

    done = _install(tmp_path, client, TINYFISH_API_KEY=KEY)
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stdout + done.stderr
    document = json.loads(path.read_text())
    assert _servers(client, document)["other"] == OTHER and document["theme"] == "dark"
    entry = _servers(client, document)["tinyfish"]
    assert Path(entry["command"]).is_absolute() and Path(entry["command"]).exists()
    if client == "vscode":
        # VS Code asks for the key itself and keeps it in its secret storage.
        assert entry["env"] == {"TINYFISH_API_KEY": "${input:tinyfish-api-key}"}
        assert [i["id"] for i in document["inputs"]] == ["tinyfish-api-key"]
        assert KEY not in path.read_text()
    else:
        assert entry["env"] == {"TINYFISH_API_KEY": KEY}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (backup,) = path.parent.glob(f"{path.name}.*.bak")
    assert json.loads(backup.read_text()) == original

    # A second run finds the same entry and changes nothing.
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    again = _install(tmp_path, client, TINYFISH_API_KEY=KEY)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert len(list(path.parent.glob(f"{path.name}.*.bak"))) == 1

    result = await _call_entry(entry, emulator, KEY)
    assert not result.is_error and len(result.structured_content["items"]) == 3


@pytest.mark.parametrize("client", FILE_CLIENTS)
async def test_install_creates_a_missing_file_for_the_sandbox(client: str, tmp_path: Path) -> None:
    path = _path(client, tmp_path)
    done = _install(tmp_path, client, "--sandbox")
    assert done.returncode == 0, done.stderr
    document = json.loads(path.read_text())
    entry = _servers(client, document)["tinyfish-sandbox"]
    assert entry["args"] == ["--sandbox"] and "env" not in entry
    assert list(path.parent.glob("*.bak")) == []
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env={})
    async with Client(stdio_client(params)) as mcp:
        result = await mcp.call_tool("search", {"query": "web automation"})
    assert not result.is_error and result.structured_content["results"]


def test_dry_run_shows_the_diff_without_the_key_and_changes_nothing(tmp_path: Path) -> None:
    path = _path("cursor", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"mcpServers": {"other": OTHER}}))
    before = path.read_bytes()
    done = _install(tmp_path, "cursor", "--dry-run", TINYFISH_API_KEY="sk-tinyfish-very-secret")
    assert done.returncode == 0, done.stderr
    assert '+    "tinyfish": {' in done.stdout and "dry run" in done.stdout
    assert "sk-tinyfish-very-secret" not in done.stdout + done.stderr
    assert path.read_bytes() == before and list(path.parent.glob("*.bak")) == []


def test_hosted_server_entries_use_each_clients_field(tmp_path: Path) -> None:
    url = "https://mcp.example.com/mcp"
    for client, expected in (
        ("windsurf", {"serverUrl": url}),
        ("cursor", {"url": url}),
        ("vscode", {"type": "http", "url": url}),
        ("claude-desktop", {"command": "npx", "args": ["-y", "mcp-remote", url]}),
    ):
        assert _install(tmp_path, client, "--url", url).returncode == 0
        assert _servers(client, json.loads(_path(client, tmp_path).read_text()))["tinyfish"] == expected


def test_a_broken_file_is_left_alone_with_one_clear_line(tmp_path: Path) -> None:
    path = _path("windsurf", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {')
    done = _install(tmp_path, "windsurf", TINYFISH_API_KEY=KEY)
    assert done.returncode == 1
    assert "is not valid JSON" in done.stderr and "Nothing was changed" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert path.read_text() == '{"mcpServers": {'


def test_no_key_and_no_terminal_says_how_to_give_one(tmp_path: Path) -> None:
    done = _install(tmp_path, "cursor")
    assert done.returncode == 1 and "TINYFISH_API_KEY" in done.stderr and "--sandbox" in done.stderr
    assert not _path("cursor", tmp_path).exists()


def test_the_key_prompt_is_hidden(tmp_path: Path) -> None:
    """On a terminal with no key in the environment, getpass asks; what is typed is not echoed."""
    secret = "sk-tinyfish-typed-at-the-prompt"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        argv = [sys.executable, "-m", "tinyfish_mcp", "install", "cursor"]
        os.execve(sys.executable, argv, _env(tmp_path))  # noqa: S606
    output = b""
    deadline = time.monotonic() + 60
    while b"API key" not in output and time.monotonic() < deadline:
        output += os.read(fd, 4096)
    os.write(fd, secret.encode() + b"\n")
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert secret.encode() not in output
    entry = json.loads(_path("cursor", tmp_path).read_text())["mcpServers"]["tinyfish"]
    assert entry["env"]["TINYFISH_API_KEY"] == secret


@pytest.fixture
def fake_claude(tmp_path: Path) -> tuple[Path, Path]:
    """A ``claude`` on PATH: ``mcp add`` records its arguments, ``mcp get`` succeeds once added."""
    record = tmp_path / "claude-added.json"
    script = tmp_path / "bin" / "claude"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        f"record = pathlib.Path({str(record)!r})\n"
        "if sys.argv[1:3] == ['mcp', 'get']:\n"
        "    sys.exit(0 if record.exists() else 1)\n"
        "if sys.argv[1:3] == ['mcp', 'add']:\n"
        "    record.write_text(json.dumps(sys.argv[3:]))\n"
    )
    script.chmod(0o755)
    return script.parent, record


async def test_claude_code_runs_claude_mcp_add_once(
    fake_claude: tuple[Path, Path], tmp_path: Path, emulator: Any
) -> None:
    bin_dir, record = fake_claude
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    done = _install(tmp_path, "claude-code", TINYFISH_API_KEY=KEY, PATH=path)
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stdout + done.stderr
    args = json.loads(record.read_text())
    assert args[:4] == ["--scope", "user", "--transport", "stdio"]
    assert args[4:6] == ["--env", f"TINYFISH_API_KEY={KEY}"] and args[6:8] == ["tinyfish", "--"]
    first = record.stat().st_mtime_ns

    again = _install(tmp_path, "claude-code", TINYFISH_API_KEY=KEY, PATH=path)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert record.stat().st_mtime_ns == first

    command = args[8:]
    entry = {"command": command[0], "args": command[1:], "env": {"TINYFISH_API_KEY": KEY}}
    result = await _call_entry(entry, emulator, KEY)
    assert not result.is_error


def test_claude_code_without_claude_prints_the_command_without_the_key(tmp_path: Path) -> None:
    done = _install(tmp_path, "claude-code", TINYFISH_API_KEY="sk-tinyfish-very-secret", PATH="/usr/bin:/bin")
    assert done.returncode == 0, done.stderr
    assert "sk-tinyfish-very-secret" not in done.stdout + done.stderr
    assert '--env "TINYFISH_API_KEY=$TINYFISH_API_KEY" tinyfish -- /' in done.stdout


def test_print_gives_a_block_for_any_other_client(tmp_path: Path) -> None:
    done = _install(tmp_path, "--print", TINYFISH_API_KEY="sk-tinyfish-very-secret")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["tinyfish"]
    assert entry["env"] == {"TINYFISH_API_KEY": "sk-tinyfish-REPLACE-ME"}
    assert "sk-tinyfish-very-secret" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("client", "platform", "env", "expected"),
    [
        ("claude-desktop", "darwin", {}, "/h/Library/Application Support/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {}, "/h/.config/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {"XDG_CONFIG_HOME": "/x"}, "/x/Claude/claude_desktop_config.json"),
        ("vscode", "darwin", {}, "/h/Library/Application Support/Code/User/mcp.json"),
        ("vscode", "linux", {}, "/h/.config/Code/User/mcp.json"),
        ("cursor", "darwin", {}, "/h/.cursor/mcp.json"),
        ("windsurf", "linux", {}, "/h/.codeium/windsurf/mcp_config.json"),
    ],
)
def test_config_paths_per_os(client: str, platform: str, env: dict[str, str], expected: str) -> None:
    path = config_path(client, home=PurePosixPath("/h"), platform=platform, env=env)  # type: ignore[arg-type]
    assert str(path) == expected


def test_config_paths_on_windows() -> None:
    env = {"APPDATA": r"C:\Users\u\AppData\Roaming"}
    home = PureWindowsPath(r"C:\Users\u")
    desktop = config_path("claude-desktop", home=home, platform="win32", env=env)
    assert str(desktop) == r"C:\Users\u\AppData\Roaming\Claude\claude_desktop_config.json"
    assert str(config_path("vscode", home=home, platform="win32", env=env)).endswith(r"Code\User\mcp.json")
    assert str(config_path("cursor", home=home, platform="win32", env=env)) == r"C:\Users\u\.cursor\mcp.json"


def test_readme_install_links_are_the_generated_ones() -> None:
    readme = (ROOT / "README.md").read_text()
    cursor, vscode = install_link("cursor"), install_link("vscode")
    assert cursor in readme and vscode in readme
    config = json.loads(base64.b64decode(cursor.split("config=", 1)[1]))
    assert config["command"] == PUBLIC_LAUNCH.command and config["args"] == list(PUBLIC_LAUNCH.args)
    spec = json.loads(unquote(vscode.split("?", 1)[1]))
    assert spec["name"] == "tinyfish" and spec["inputs"][0]["password"] is True
