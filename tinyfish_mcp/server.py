"""Building the MCP server: one ``MCPServer`` with the enabled toolsets registered.

``build_server(settings)`` is all a transport needs: the stdio CLI runs it as is, the
HTTP app passes its own key resolver (the signed-in user's key) and auth objects.
This module stays light on imports, because the stdio server's cold start is what a
desktop client waits for on every launch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

from . import __version__
from .settings import Settings, Toolset
from .tools import agent, browser, fetch, runs, search, vault
from .tools._arguments import install_argument_checks
from .tools._schema import compact_tool_schemas
from .tools.context import KeyResolver, ToolDeps, settings_key_resolver
from .upstream.client import TinyFishClient

__all__ = ["TOOLSETS", "build_server", "instructions_for"]

log = logging.getLogger(__name__)

TOOLSETS: dict[Toolset, Callable[[MCPServer[Any], ToolDeps], None]] = {
    "agent": agent.register,
    "runs": runs.register,
    "fetch": fetch.register,
    "search": search.register,
    "browser": browser.register,
    "vault": vault.register,
}

# One line per toolset, so a server with some toolsets off never points the model at a
# tool it does not have.
_INSTRUCTION_LINES: dict[Toolset, str] = {
    "agent": "- run_web_automation: do a task on a site (navigate, click, fill forms, extract data from "
    "JS-heavy pages). Write a precise goal and pass output_schema for structured data. When a call "
    "returns status RUNNING, call wait_for_run(run_id) instead of starting the goal again. A "
    "COMPLETED run can still have missed its goal: read its warning field.",
    "runs": "- get_run / list_runs look runs up; cancel_run stops one; runs go on upstream between calls.",
    "fetch": "- fetch_content reads known pages as clean text: faster and cheaper than a run when no "
    "interaction is needed.",
    "search": "- search_web finds pages (about 5 searches a minute).",
    "browser": "- create_browser_session gives a raw CDP browser for your own Playwright code.",
    "vault": "- list_vault_items gives credential ids for logging in during a run.",
}


def instructions_for(toolsets: tuple[Toolset, ...]) -> str:
    """The server instructions, naming only the tools of the enabled toolsets."""
    lines = [_INSTRUCTION_LINES[name] for name in TOOLSETS if name in toolsets]
    return "TinyFish runs web tasks in real cloud browsers.\n" + "\n".join(lines) + "\n"


def build_server(
    settings: Settings,
    *,
    client: TinyFishClient | None = None,
    resolve_key: KeyResolver | None = None,
    auth_server_provider: Any = None,
    token_verifier: Any = None,
    auth: Any = None,
) -> MCPServer[Any]:
    """The MCP server for ``settings``, with the toolsets of ``settings.mcp_toolsets``.

    ``client`` is shared when given (and then not closed here); otherwise the server
    creates one and closes it when its lifespan ends. ``resolve_key`` defaults to the
    key in the settings (stdio). The auth arguments pass straight to ``MCPServer``.
    """
    owned = client is None
    upstream = client if client is not None else TinyFishClient(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            if owned:
                await upstream.aclose()

    mcp: MCPServer[Any] = MCPServer(
        "tinyfish",
        version=__version__,
        instructions=instructions_for(settings.mcp_toolsets),
        website_url="https://docs.tinyfish.ai",
        auth_server_provider=auth_server_provider,
        token_verifier=token_verifier,
        auth=auth,
        lifespan=lifespan,
        log_level=settings.mcp_log_level,
    )
    deps = ToolDeps(
        settings=settings,
        client=upstream,
        resolve_key=resolve_key or settings_key_resolver(settings),
    )
    for name in settings.mcp_toolsets:
        TOOLSETS[name](mcp, deps)
    compact_tool_schemas(mcp)
    install_argument_checks(mcp)
    log.debug("toolsets enabled: %s", ", ".join(settings.mcp_toolsets))
    return mcp
