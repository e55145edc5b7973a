"""The ``tinyfish-mcp`` command: flags -> settings -> stdio, sandbox or HTTP.

``tinyfish-mcp`` (or ``tinyfish-mcp stdio``) is what desktop clients launch: the MCP
protocol on stdin/stdout, logs on stderr. ``--sandbox`` serves against the built-in
emulator, so a client configuration can be tried with no key and no network.
``tinyfish-mcp http`` runs the hosted server. A bad flag or setting is one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from pydantic import SecretStr, ValidationError

from . import __version__
from .settings import TOOLSETS, Settings

__all__ = ["build_parser", "main", "no_arguments", "settings_from_args"]

log = logging.getLogger("tinyfish_mcp")

EXIT_USAGE = 2

# Which command-line flag sets which setting, for error messages that name both.
_FLAGS = {
    "mcp_toolsets": "--toolsets",
    "mcp_log_level": "--log-level",
    "mcp_host": "--host",
    "mcp_port": "--port",
    "mcp_auth": "--auth",
    "mcp_public_url": "--public-url",
    "mcp_workers": "--workers",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole usage)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Subcommands share these flags; SUPPRESS keeps a subcommand's missing flag from
    # overwriting one given before the subcommand name.
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--toolsets",
        default=default,
        metavar="LIST",
        help=f"comma-separated toolsets to enable: {','.join(TOOLSETS)}, all, or hosted (only the "
        "tools of TinyFish's hosted server) "
        "(default: TINYFISH_MCP_TOOLSETS, else the default set; see README)",
    )
    parser.add_argument(
        "--log-level",
        default=default,
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level (default: TINYFISH_MCP_LOG_LEVEL, else INFO)",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="serve against the built-in TinyFish emulator: no API key, no real browsers",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tinyfish-mcp",
        description="MCP server for the TinyFish web agent. Without a command it serves stdio.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, top=True)
    commands = parser.add_subparsers(
        dest="command", metavar="{stdio,http,install,doctor,admin,db}", parser_class=_Parser
    )
    stdio = commands.add_parser("stdio", help="serve MCP on stdin/stdout (the default)")
    _common(stdio, top=False)
    http = commands.add_parser("http", help="serve MCP over streamable HTTP with authorization")
    _common(http, top=False)
    http.add_argument("--host", help="interface to bind (default: TINYFISH_MCP_HOST, else 127.0.0.1)")
    http.add_argument("--port", type=int, help="port (default: TINYFISH_MCP_PORT, else 8000)")
    http.add_argument("--auth", choices=["oauth", "jwt", "none"], help="authorization mode")
    http.add_argument("--public-url", help="public base URL when behind a proxy")
    http.add_argument(
        "--workers",
        type=int,
        help="worker processes (default: TINYFISH_MCP_WORKERS, else one per core with auth, 1 without)",
    )
    doctor = commands.add_parser(
        "doctor", help="check the key, the network, the clock and the client configurations"
    )
    _common(doctor, top=False)
    # The modules of the other commands, imported here: a bare launch never builds the parser (main).
    from . import install
    from .admin import add_admin_parser
    from .db import add_db_parser

    install.add_parser(commands)
    add_admin_parser(commands, _Parser)
    add_db_parser(commands, _Parser)
    return parser


def no_arguments() -> argparse.Namespace:
    """What ``build_parser().parse_args([])`` returns (a test holds them equal), without building it."""
    return argparse.Namespace(toolsets=None, log_level=None, sandbox=False, command=None)


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from the environment, overridden by the flags that were given."""
    overrides: dict[str, Any] = dict(extra)
    for attr, field in (
        ("toolsets", "mcp_toolsets"),
        ("log_level", "mcp_log_level"),
        ("host", "mcp_host"),
        ("port", "mcp_port"),
        ("auth", "mcp_auth"),
        ("public_url", "mcp_public_url"),
        ("workers", "mcp_workers"),
    ):
        value = getattr(args, attr, None)
        if value is not None:
            overrides[field] = value
    if getattr(args, "sandbox", False):
        overrides["sandbox"] = True  # a Browserbase provider then needs no key: the emulator serves it
    return Settings(**overrides)


def _settings_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        source = f"TINYFISH_{field.upper()}"
        if field in _FLAGS:
            source += f" / {_FLAGS[field]}"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{source}: {message}")
    return "invalid setting: " + "; ".join(problems)


def _configure_logging(level: str, kind: str = "text") -> None:
    from .logformat import configure_logging

    # Before MCPServer configures its own: stdout belongs to the protocol.
    configure_logging(level, kind)


def _sandbox() -> AbstractContextManager[Any]:
    from .emulator import EmulatorConfig, serve_in_thread

    return serve_in_thread(EmulatorConfig())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinyfish-mcp`` and ``python -m tinyfish_mcp``."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    # A desktop client launches the bare command on every start: building the parser (every
    # subcommand and the modules defining them) would be milliseconds of each launch.
    args = build_parser().parse_args(arguments) if arguments else no_arguments()
    command = args.command or "stdio"
    if command != "stdio":
        gc.enable()  # ``python -m tinyfish_mcp`` starts with it off: only the stdio start keeps it so
    if command == "install":
        from . import install

        return install.run(args)
    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        print(f"tinyfish-mcp: {_settings_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(settings.mcp_log_level, settings.mcp_log_format)
    if command == "admin":
        from .admin import run_admin

        return run_admin(args, settings)
    if command == "db":
        from .db import run_db

        return run_db(args, settings)

    wants_sandbox = args.sandbox or settings.sandbox
    sandbox: AbstractContextManager[Any] = _sandbox() if wants_sandbox else nullcontext()
    try:
        with sandbox as emulator:
            if emulator is not None:
                from .emulator.config import (
                    DEFAULT_API_KEY,
                    DEFAULT_BROWSERBASE_API_KEY,
                    DEFAULT_BROWSERBASE_PROJECT_ID,
                )

                settings = settings.model_copy(
                    update={
                        "base_url": emulator.base_url,
                        "api_key": SecretStr(DEFAULT_API_KEY),
                        "sandbox": True,
                        # The emulator's Browserbase API, for TINYFISH_MCP_*_PROVIDER=browserbase.
                        "browserbase_base_url": f"{emulator.base_url}/browserbase",
                        "browserbase_api_key": SecretStr(DEFAULT_BROWSERBASE_API_KEY),
                        "browserbase_project_id": DEFAULT_BROWSERBASE_PROJECT_ID,
                    }
                )
                log.warning(
                    "SANDBOX: serving against the built-in TinyFish emulator at %s - "
                    "runs are simulated, no API key is used",
                    emulator.base_url,
                )
            if command == "doctor":
                from . import doctor

                return doctor.run(settings)
            if command == "http":
                return _serve_http(settings)
            return _serve_stdio(settings)
    except KeyboardInterrupt:
        return 130


_TTY_HINT = """\
tinyfish-mcp is waiting for an MCP client on stdin/stdout; it is not an interactive program.
  - add it to your client:   tinyfish-mcp install claude-desktop|claude-code|cursor|windsurf|vscode
  - check your setup:         tinyfish-mcp doctor
  - try it in a browser UI:   npx @modelcontextprotocol/inspector tinyfish-mcp --sandbox
  - every option:             tinyfish-mcp --help
Press Ctrl+C to stop."""


def _serve_stdio(settings: Settings) -> int:
    # The cyclic collector is off while the server starts: the SDK's imports and ours make
    # ~140,000 long-lived objects, and collecting over and over while they are made was a tenth
    # of the cold start (``python -m tinyfish_mcp`` and the command turn it off before the first
    # import: ``__main__.py``). ``stdio.serve_stdio`` freezes what start-up built and turns it back on
    # (``gctune.settle_heap``); the start-up's own garbage cycles (a few MB) stay, as freezing
    # without a full collection (which costs as much as what was saved) keeps them anyway.
    gc.disable()
    try:
        return _start_stdio(settings)
    finally:
        gc.enable()


def _start_stdio(settings: Settings) -> int:
    from .runtime.sessions import MemorySessionStore
    from .server import build_server
    from .stdio import run_stdio

    if settings.api_key is None:
        log.warning("TINYFISH_API_KEY is not set: tools are listed, but every call will say how to set it")
    log.info("tinyfish-mcp %s on stdio (toolsets: %s)", __version__, ",".join(settings.mcp_toolsets))
    if sys.stdin.isatty():
        print(_TTY_HINT, file=sys.stderr, flush=True)
    sessions = MemorySessionStore()

    def cleanup() -> None:
        # The client went away: its browser sessions stop billing now rather than at their
        # inactivity timeout.
        _close_browser_sessions(settings, sessions)

    try:
        # On SIGTERM/SIGINT the calls in flight answer (with their run ids), then ``cleanup``
        # runs and the process exits 0 from inside; the end of stdin returns here.
        run_stdio(
            build_server(settings, browser_sessions=sessions),
            grace=settings.mcp_stdio_shutdown_grace_seconds,
            cleanup=cleanup,
        )
    except* (BrokenPipeError, ConnectionResetError):
        # The client closed our stdout (it quit or restarted us): an ordinary way to end.
        log.info("the client closed the connection")
        _silence_stdout()
    finally:
        cleanup()
    return 0


def _close_browser_sessions(settings: Settings, sessions: Any) -> None:
    if not sessions.open_sessions():
        return
    if settings.mcp_keep_browser_sessions:
        log.info(
            "leaving %d browser session(s) open (TINYFISH_MCP_KEEP_BROWSER_SESSIONS)",
            len(sessions.open_sessions()),
        )
        return
    import anyio

    from .runtime.sessions import close_open_sessions
    from .upstream.client import TinyFishClient
    from .upstream.vendors import build_providers

    key = settings.api_key.get_secret_value().strip() if settings.api_key is not None else ""

    async def tinyfish_key() -> str:
        return key

    async def close_all() -> int:
        async with TinyFishClient(settings) as client:
            providers = build_providers(settings, client, tinyfish_key)
            try:
                provider = providers.browser
                return await close_open_sessions(sessions, provider, await provider.credential())
            finally:
                await providers.aclose()

    count = len(sessions.open_sessions())
    try:
        closed = anyio.run(close_all)
    except KeyboardInterrupt:
        log.warning("interrupted while closing browser sessions; the rest end at their inactivity timeout")
        return
    log.info("closed %d of %d open browser session(s) as the client went away", closed, count)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail on the dead pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def _serve_http(settings: Settings) -> int:
    try:
        from .http.app import ConfigError
        from .http.serving import serve
    except ImportError as exc:
        print(f"tinyfish-mcp: the HTTP server is not available in this install ({exc})", file=sys.stderr)
        return 1
    try:
        serve(settings)
    except ConfigError as exc:
        print(f"tinyfish-mcp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0
