"""``tinyfish-mcp install <client>``: add this server to an MCP client's configuration.

Claude Desktop, Cursor, Windsurf and VS Code keep their servers in a JSON file: the file
of the current OS is read, our entry merged in (every other server is kept as it was),
the previous file kept as a timestamped ``.bak`` beside it, and the result written
atomically. A second run that would write the same file changes nothing and says so.
The entry starts the executable that is running now, by absolute path, so it works
before the package is on an index. Claude Code is configured through its own CLI
(``claude mcp add``), or the command is printed when ``claude`` is not installed.

The API key comes from ``TINYFISH_API_KEY`` or, on a terminal, from a hidden prompt; it
is never echoed, never printed (diffs and printed commands show a placeholder), and
never needs to be typed on a command line. VS Code asks for it itself (``inputs``) and
keeps it in its secret storage. ``--sandbox`` installs the offline mode (no key).
"""

from __future__ import annotations

import argparse
import base64
import copy
import difflib
import getpass
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .clients import (
    CLIENTS,
    KEY_ENV,
    PUBLIC_LAUNCH,
    ClientName,
    Launch,
    config_path,
    server_entry,
    servers_key,
    vscode_key_input,
)

__all__ = ["InstallError", "add_parser", "install_link", "run"]

TITLES: dict[ClientName, str] = {
    "claude-desktop": "Claude Desktop",
    "claude-code": "Claude Code",
    "cursor": "Cursor",
    "windsurf": "Windsurf",
    "vscode": "VS Code",
}
HIDDEN = "<your TinyFish API key>"
PLACEHOLDER_KEY = "sk-tinyfish-REPLACE-ME"


class InstallError(Exception):
    """Installing cannot go on; the message says why and how to fix it. Nothing was changed."""


def add_parser(commands: Any) -> None:
    sub = commands.add_parser(
        "install",
        help="add tinyfish-mcp to an MCP client's configuration",
        description="Add tinyfish-mcp to an MCP client's configuration (other servers are kept, the "
        "previous file is backed up). The key comes from TINYFISH_API_KEY or a hidden prompt.",
    )
    sub.add_argument("client", nargs="?", choices=CLIENTS, help="the client to configure")
    sub.add_argument("--sandbox", action="store_true", help="install the offline sandbox (no key needed)")
    sub.add_argument("--url", help="a hosted tinyfish-mcp server (https://…/mcp) instead of a local one")
    sub.add_argument("--name", help="the server's name in the client (default: tinyfish or tinyfish-sandbox)")
    sub.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    sub.add_argument("--print", action="store_true", help="print the configuration for any other client")
    sub.add_argument("--link", action="store_true", help="print a one-click install link (cursor, vscode)")
    sub.add_argument(
        "--scope",
        default="user",
        choices=["user", "local", "project"],
        help="Claude Code scope (default: user)",
    )


def this_command() -> Launch:
    """The absolute command line that starts the server now running this code."""
    bin_dir = Path(sys.executable).parent
    for name in ("tinyfish-mcp", "tinyfish-mcp.exe"):
        script = bin_dir / name
        if script.is_file():
            return Launch(command=str(script.absolute()))
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name.startswith("tinyfish-mcp") and argv0.is_file():
        return Launch(command=str(argv0.absolute()))
    return Launch(command=str(Path(sys.executable).absolute()), args=("-m", "tinyfish_mcp"))


def _launch(args: argparse.Namespace) -> Launch:
    if args.url:
        if not args.url.startswith(("https://", "http://")):
            raise InstallError(f"--url must be the server's https://…/mcp address, not {args.url!r}")
        return Launch(url=args.url)
    base = this_command()
    return Launch(command=base.command, args=(*base.args, *(("--sandbox",) if args.sandbox else ())))


def _read_key(client: ClientName, args: argparse.Namespace) -> str | None:
    """The key to write: None (sandbox, remote), "prompt" (VS Code asks), or the user's key."""
    if args.sandbox or args.url:
        return None
    if client == "vscode":
        return "prompt"
    key = os.environ.get(KEY_ENV, "").strip()
    if key:
        return key
    if args.dry_run or args.print:
        return PLACEHOLDER_KEY
    if not sys.stdin.isatty():
        raise InstallError(
            f"no API key: set {KEY_ENV} in the environment, or run this in a terminal to be asked for it "
            "(get one at https://agent.tinyfish.ai/api-keys), or use --sandbox to try it without a key"
        )
    key = getpass.getpass("TinyFish API key (hidden; https://agent.tinyfish.ai/api-keys): ").strip()
    if not key:
        raise InstallError("no key entered: nothing was changed")
    return key


def _mask(text: str, key: str | None) -> str:
    return text.replace(key, HIDDEN) if key and key not in ("prompt", PLACEHOLDER_KEY) else text


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InstallError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it or move "
            "it aside and run this again. Nothing was changed."
        ) from None
    if not isinstance(document, dict):
        raise InstallError(
            f"{path} does not hold a JSON object; fix it or move it aside. Nothing was changed."
        )
    return document


def merged(document: dict[str, Any], client: ClientName, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """``document`` with our entry set under ``name``; everything else as it was."""
    result = copy.deepcopy(document)
    key = servers_key(client)
    servers = result.setdefault(key, {})
    if not isinstance(servers, dict):
        raise InstallError(
            f'"{key}" in the configuration is not an object; fix it first. Nothing was changed.'
        )
    servers[name] = entry
    if client == "vscode" and "${input:" in json.dumps(entry):
        wanted = vscode_key_input()
        inputs = result.setdefault("inputs", [])
        if not isinstance(inputs, list):
            raise InstallError(
                '"inputs" in the configuration is not a list; fix it first. Nothing was changed.'
            )
        if wanted not in inputs:
            same_id = [i for i in inputs if isinstance(i, dict) and i.get("id") == wanted["id"]]
            result["inputs"] = [*(i for i in inputs if i not in same_id), wanted]
    return result


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> Path | None:
    """Write ``text`` atomically; returns the backup of the previous file, if there was one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = 0o600  # the file may hold an API key: readable by its owner only
    if path.exists():
        mode = path.stat().st_mode & 0o700
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copy2(path, backup)
    temporary = path.with_name(f".{path.name}.tinyfish-tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
    return backup


def _install_file(client: ClientName, args: argparse.Namespace, name: str) -> int:
    launch = _launch(args)
    key = _read_key(client, args)
    path = Path(config_path(client, platform=sys.platform, env=os.environ))
    before = _load(path)
    after = merged(before, client, name, server_entry(client, launch, api_key=key))
    old_text = _dump(before) if path.exists() else ""
    new_text = _dump(after)
    title = TITLES[client]
    if before == after and path.exists():
        print(f"{title}: {path} already has this {name!r} entry; nothing changed.")
        return 0
    if args.dry_run:
        diff = difflib.unified_diff(
            old_text.splitlines(keepends=True), new_text.splitlines(keepends=True), str(path), f"{path} (new)"
        )
        print(_mask("".join(diff), key), end="")
        print(f"(dry run: {path} was not changed)")
        return 0
    backup = _write(path, new_text)
    print(
        f"{title}: added {name!r} to {path}" + (f" (previous file kept as {backup.name})" if backup else "")
    )
    print(f"It starts: {_describe(launch)}")
    print(f"Restart {title} (or reload its MCP servers) to use it.")
    return 0


def _describe(launch: Launch) -> str:
    return launch.url if launch.url else shlex.join([launch.command or "", *launch.args])


def _claude_code(args: argparse.Namespace, name: str) -> int:
    launch = _launch(args)
    key = _read_key("claude-code", args) if not args.dry_run else None
    head = ["claude", "mcp", "add", "--scope", args.scope]
    if launch.url:
        command = [*head, "--transport", "http", name, launch.url]
        shown = shlex.join(command)
    else:
        tail = [name, "--", launch.command or "", *launch.args]
        env = [] if args.sandbox else ["--env", f"{KEY_ENV}={key}"]
        command = [*head, "--transport", "stdio", *env, *tail]
        key_part = f' --env "{KEY_ENV}=${KEY_ENV}"' if not args.sandbox else ""
        shown = shlex.join([*head, "--transport", "stdio"]) + key_part + " " + shlex.join(tail)
    claude = shutil.which("claude")
    if claude is None or args.dry_run or args.print:
        reason = "the claude command is not on PATH" if claude is None else "dry run"
        print(
            f"Claude Code ({reason}): run this in a shell where {KEY_ENV} is set:"
            if not args.sandbox and not launch.url
            else f"Claude Code ({reason}): run this:"
        )
        print(f"  {shown}")
        return 0
    exists = subprocess.run(  # noqa: S603 - the user's own claude CLI, fixed arguments
        [claude, "mcp", "get", name], capture_output=True, text=True, timeout=60, check=False
    )
    if exists.returncode == 0:
        print(
            f"Claude Code already has a server named {name!r}; nothing changed. To replace it: "
            f"claude mcp remove {name} --scope {args.scope}, then run this again."
        )
        return 0
    # `claude mcp add` takes the key as an argument; it never passes through a shell or its history.
    done = subprocess.run(  # noqa: S603
        [claude, *command[1:]], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        detail = _mask((done.stderr or done.stdout).strip(), key)
        print(f"tinyfish-mcp: `claude mcp add` failed: {detail}", file=sys.stderr)
        return 1
    print(f"Claude Code: added {name!r} (scope {args.scope}). It starts: {_describe(launch)}")
    return 0


def install_link(client: ClientName, launch: Launch = PUBLIC_LAUNCH, name: str = "tinyfish") -> str:
    """A one-click install link: Cursor's deeplink or VS Code's ``vscode:mcp/install``."""
    if client == "cursor":
        entry = server_entry("cursor", launch, api_key=PLACEHOLDER_KEY)
        config = base64.b64encode(json.dumps(entry, separators=(",", ":")).encode()).decode()
        return f"cursor://anysphere.cursor-deeplink/mcp/install?name={name}&config={config}"
    if client == "vscode":
        spec = {
            "name": name,
            **server_entry("vscode", launch, api_key="prompt"),
            "inputs": [vscode_key_input()],
        }
        return "vscode:mcp/install?" + quote(json.dumps(spec, separators=(",", ":")), safe="")
    raise InstallError(f"{TITLES[client]} has no install links; run: tinyfish-mcp install {client}")


def _print_config(client: ClientName | None, args: argparse.Namespace, name: str) -> int:
    launch = _launch(args)
    key = None if args.sandbox or args.url else PLACEHOLDER_KEY
    target: ClientName = client or "cursor"
    entry = server_entry(target, launch, api_key="prompt" if target == "vscode" and key else key)
    document = merged({}, target, name, entry)
    print(_dump(document), end="")
    if key:
        print(
            f"(replace {PLACEHOLDER_KEY} with your key from https://agent.tinyfish.ai/api-keys)",
            file=sys.stderr,
        )
    return 0


def run(args: argparse.Namespace) -> int:
    """The ``install`` command; returns the exit status."""
    client: ClientName | None = args.client
    name = args.name or ("tinyfish-sandbox" if args.sandbox else "tinyfish")
    try:
        if args.link:
            if client is None:
                raise InstallError("--link needs a client: cursor or vscode")
            print(install_link(client, name=name))
            return 0
        if client == "claude-code":
            return _claude_code(args, name)
        if args.print or client is None:
            return _print_config(client, args, name)
        return _install_file(client, args, name)
    except InstallError as exc:
        print(f"tinyfish-mcp install: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"tinyfish-mcp install: {exc.strerror or exc} ({exc.filename}); nothing was changed",
            file=sys.stderr,
        )
        return 1
