"""Where each MCP client keeps its configuration, and the entry that starts this server there.

Shared by ``tinyfish-mcp install`` (which writes entries) and ``tinyfish-mcp doctor``
(which finds them). Pure data and pure functions: no I/O but reading environment values
passed in, so every operating system's paths can be tested on any machine.

- claude-desktop: ``Claude/claude_desktop_config.json`` in the OS's app-config folder,
  ``mcpServers``; a hosted server through the ``mcp-remote`` bridge;
- cursor: ``~/.cursor/mcp.json``, ``mcpServers``; a hosted server as ``url``;
- windsurf: ``~/.codeium/windsurf/mcp_config.json``, ``mcpServers``; hosted: ``serverUrl``;
- vscode: ``Code/User/mcp.json`` in the app-config folder, ``servers`` and ``inputs``;
  hosted: ``type: http``;
- claude-code: ``~/.claude.json``, written by ``claude mcp add``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any, Literal

__all__ = [
    "CLIENTS",
    "KEY_ENV",
    "KEY_INPUT_ID",
    "PUBLIC_LAUNCH",
    "REGISTRY_NAME",
    "REPOSITORY_URL",
    "ClientName",
    "Launch",
    "config_path",
    "mentions_us",
    "server_entry",
    "servers_key",
    "vscode_key_input",
]

ClientName = Literal["claude-desktop", "claude-code", "cursor", "windsurf", "vscode"]
CLIENTS: tuple[ClientName, ...] = ("claude-desktop", "claude-code", "cursor", "windsurf", "vscode")

KEY_ENV = "TINYFISH_API_KEY"
KEY_INPUT_ID = "tinyfish-api-key"
# The MCP Registry name (io.github.<owner>/<name>) and the repository it points at.
REGISTRY_NAME = "io.github.tinyfish-mcp/tinyfish-mcp"
REPOSITORY_URL = "https://github.com/tinyfish-mcp/tinyfish-mcp"


@dataclass(frozen=True)
class Launch:
    """How a client starts (or reaches) the server: a command line, or the URL of a hosted one."""

    command: str | None = None
    args: tuple[str, ...] = ()
    url: str | None = None


# What install links start: the package straight from the repository through uvx.
PUBLIC_LAUNCH = Launch(command="uvx", args=("--from", f"git+{REPOSITORY_URL}", "tinyfish-mcp"))


def _app_config_dir(home: PurePath, platform: str, env: Mapping[str, str]) -> PurePath:
    """The per-user application configuration folder of the OS."""
    if platform == "darwin":
        return home / "Library" / "Application Support"
    if platform == "win32":
        appdata = env.get("APPDATA")
        return PureWindowsPath(appdata) if appdata else home / "AppData" / "Roaming"
    xdg = env.get("XDG_CONFIG_HOME")
    return PurePosixPath(xdg) if xdg else home / ".config"


def config_path(
    client: ClientName, *, home: PurePath | None = None, platform: str, env: Mapping[str, str]
) -> PurePath:
    """The user-level configuration file of ``client`` on ``platform`` (``sys.platform`` values)."""
    if home is None:
        home = Path.home()
    elif platform == "win32":
        home = PureWindowsPath(home)
    if client == "claude-desktop":
        return _app_config_dir(home, platform, env) / "Claude" / "claude_desktop_config.json"
    if client == "vscode":
        return _app_config_dir(home, platform, env) / "Code" / "User" / "mcp.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "windsurf":
        return home / ".codeium" / "windsurf" / "mcp_config.json"
    return home / ".claude.json"


def servers_key(client: ClientName) -> str:
    return "servers" if client == "vscode" else "mcpServers"


def vscode_key_input() -> dict[str, Any]:
    """VS Code asks for the key once, stores it in its secret storage, and never writes it to the file."""
    return {
        "type": "promptString",
        "id": KEY_INPUT_ID,
        "description": "TinyFish API key (https://agent.tinyfish.ai/api-keys)",
        "password": True,
    }


def server_entry(client: ClientName, launch: Launch, *, api_key: str | None) -> dict[str, Any]:
    """The value under ``servers_key(client)[name]`` that starts or reaches the server.

    ``api_key`` goes into the entry's environment (None: no key, as for the sandbox). VS
    Code's stdio entry refers to its ``inputs`` prompt instead when ``api_key`` is the
    string ``"prompt"``.
    """
    if launch.url is not None:
        if client == "vscode":
            return {"type": "http", "url": launch.url}
        if client == "windsurf":
            return {"serverUrl": launch.url}
        if client == "claude-desktop":
            # Claude Desktop's configuration file starts only stdio servers: bridge with mcp-remote.
            return {"command": "npx", "args": ["-y", "mcp-remote", launch.url]}
        return {"url": launch.url}
    assert launch.command is not None
    entry: dict[str, Any] = {"command": launch.command, "args": list(launch.args)}
    if client == "vscode":
        entry = {"type": "stdio", **entry}
        if api_key == "prompt":
            entry["env"] = {KEY_ENV: f"${{input:{KEY_INPUT_ID}}}"}
            return entry
    if api_key is not None:
        entry["env"] = {KEY_ENV: api_key}
    return entry


def mentions_us(entry: Mapping[str, Any], names: Sequence[str] = ("tinyfish",)) -> bool:
    """Whether a server entry runs or reaches tinyfish-mcp (by command, arguments or URL)."""
    command = str(entry.get("command", ""))
    words = [command, *(str(a) for a in entry.get("args", []) or [])]
    if any("tinyfish-mcp" in w or "tinyfish_mcp" in w for w in words):
        return True
    return any(n in str(entry.get("url", entry.get("serverUrl", ""))) for n in names)
