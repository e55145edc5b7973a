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
from importlib import import_module
from typing import Any

from mcp.server.context import ServerMiddleware
from mcp.server.mcpserver import MCPServer

from . import __version__
from .apps import live_view_app
from .pipeline.arguments import ArgumentChecks, PromptChecks
from .pipeline.catalog import Catalog
from .pipeline.deadlines import Deadlines
from .pipeline.resources import ResourceErrors
from .pipeline.task_ids import TaskSeal
from .pipeline.tasks import Tasks
from .pipeline.top_up import TopUps, request_state_security
from .pipeline.tracing import RequestIds
from .runtime.context import KeyResolver, OwnerResolver, ToolDeps, settings_key_resolver
from .runtime.errors import remember_caller
from .runtime.idempotency import MemoryRunKeyStore, RunKeyStore
from .runtime.ownership import Ownership, OwnershipStore, say_account_wide
from .runtime.schema import compact_tool_schemas
from .runtime.sessions import BrowserSessionStore, observed_sessions
from .settings import Settings, Surface, Toolset
from .tracing import note_user
from .upstream.client import TinyFishClient
from .upstream.vendors import build_providers

__all__ = ["TOOLSETS", "TinyFishServer", "build_server", "instructions_for", "streaming_tools"]

log = logging.getLogger(__name__)

# The module of each toolset under ``toolsets/``, imported only when the toolset is enabled:
# the stdio cold start does not pay for opt-in products.
TOOLSETS: dict[Toolset, str] = {
    "agent": "agent",
    "runs": "runs",
    "fetch": "fetch",
    "search": "search",
    "browser": "browser",
    "vault": "vault",
    "wallet": "wallet",
    "monitors": "monitors",
    "research": "research",
    "profiles": "profiles",
    "datasets": "datasets",
    "usage": "usage",
    "guide": "guide",
}

# One line per toolset, so a server with some toolsets off never points the model at a
# tool it does not have.
_INSTRUCTION_LINES: dict[Toolset, str] = {
    "agent": "- run_web_automation: do a task on a site (navigate, click, fill forms, log in, extract data "
    "from JS-heavy pages); billed per step. Write a precise goal, pass output_schema for structured data "
    "and a fresh session_id (UUID) per task: a retry with the same session_id follows the run already "
    "started. When a call returns status RUNNING, call wait_for_run(run_id) instead of starting the goal "
    "again. A COMPLETED run can still have missed its goal: read its warning field. The same task on "
    "several sites: batch_create.",
    "runs": "- get_run / get_steps / list_runs look runs up; cancel_run stops one; batch_status and "
    "batch_cancel handle many; runs go on upstream between calls.",
    "fetch": "- fetch_content reads known URLs as clean text, free: use it instead of a run when no "
    "interaction is needed; highlights={query} returns only the passages that answer a question.",
    "search": "- search finds pages, news or research papers, free (about 5 searches a minute); read "
    "the results with fetch_content.",
    "browser": "- create_browser_session gives a raw CDP browser for your own Playwright code; it bills "
    "while open: close_browser_session when done.",
    "vault": "- list_vault_items gives credential ids for logging in during a run.",
    "wallet": "- get_wallet shows the credit balance: read it before many runs or after a credit error.",
    "monitors": "- create_monitor watches a page or a topic on a schedule (billed per check: say the cost "
    "first); run_monitor checks now; list/get/pause/resume/cancel_monitor manage them.",
    "research": "- run_research answers a question with a cited report (minutes, billed); when it returns "
    "RUNNING call wait_for_research; get_research pages the report and evidence.",
    "profiles": "- create_profile / list_profiles manage saved logins; start_profile_setup_session / "
    "save_profile_setup_session sign a profile in once; runs pass profile_id to reuse it.",
    "datasets": "- plan_dataset / create_dataset build a table with agent runs (billed); populate_dataset "
    "follows or restarts filling it; read_dataset pages the rows.",
    "usage": "- get_search_usage / list_fetch_usage page through past searches and fetches (audits only).",
    "guide": "- guide_next_step suggests the user's next TinyFish step from their account; ask before "
    "running what it suggests.",
}
# The hosted surface serves no batch_create, get_steps or vault tools: its lines say less.
_HOSTED_LINES: dict[Toolset, str] = {
    "agent": "- run_web_automation: do a task on a site (navigate, click, fill forms, log in, extract data "
    "from JS-heavy pages); billed per step. Write a precise goal, pass output_schema for structured data "
    "and a fresh session_id (UUID) per task: a retry with the same session_id follows the run already "
    "started. When a call returns status RUNNING, call wait_for_run(run_id) instead of starting the goal "
    "again. A COMPLETED run can still have missed its goal: read its warning field.",
    "runs": "- get_run / list_runs look runs up; cancel_run stops one; batch_status and batch_cancel "
    "handle many; runs go on upstream between calls.",
}


def instructions_for(toolsets: tuple[Toolset, ...], surface: Surface = "toolsets") -> str:
    """The server instructions, naming only the tools served (the enabled toolsets', or the hosted ones)."""
    lines = [
        (_HOSTED_LINES.get(name) if surface == "hosted" else None) or _INSTRUCTION_LINES[name]
        for name in TOOLSETS
        if name in toolsets
    ]
    return "TinyFish runs web tasks in real cloud browsers.\n" + "\n".join(lines) + "\n"


class TinyFishServer(MCPServer[Any]):
    """The SDK's ``MCPServer``, keeping the catalog it was built from (tools and their nature)."""

    catalog: Catalog


def build_server(
    settings: Settings,
    *,
    client: TinyFishClient | None = None,
    resolve_key: KeyResolver | None = None,
    auth_server_provider: Any = None,
    token_verifier: Any = None,
    auth: Any = None,
    run_keys: RunKeyStore | None = None,
    browser_sessions: BrowserSessionStore | None = None,
    resolve_owner: OwnerResolver | None = None,
    owners: OwnershipStore | None = None,
    call_metrics: Callable[[Catalog], ServerMiddleware[Any]] | None = None,
) -> TinyFishServer:
    """The MCP server for ``settings``, with the toolsets of ``settings.mcp_toolsets``.

    ``client`` is shared when given (and then not closed here); otherwise the server
    creates one and closes it when its lifespan ends. ``resolve_key`` defaults to the
    key in the settings (stdio). The auth arguments pass straight to ``MCPServer``.
    ``browser_sessions`` and ``resolve_owner`` say where browser sessions are recorded and
    whose they are (default: this process's memory, owned by whoever holds the key).
    ``owners``, given where users share one key (jwt mode), records and checks the owner of
    every run, research run, dataset, monitor and profile setup (``runtime/ownership.py``).
    ``call_metrics`` builds the middleware that counts tool calls (HTTP with metrics on).
    """
    owned = client is None
    upstream = client if client is not None else TinyFishClient(settings)
    resolve = resolve_key or settings_key_resolver(settings)

    async def resolve_and_remember() -> str:
        # The caller's key, remembered for this call so a credit error can name the balance.
        key = await resolve()
        remember_caller(upstream, key)
        note_user(key)  # the access log names the user by the key's short hash
        return key

    providers = build_providers(settings, upstream, resolve_and_remember)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            await providers.aclose()
            if owned:
                await upstream.aclose()

    run_key_store = run_keys or default_run_keys(settings)
    deps = ToolDeps(
        settings=settings,
        client=upstream,
        resolve_key=resolve_and_remember,
        providers=providers,
        run_keys=run_key_store,
        browser_sessions=observed_sessions(browser_sessions) if browser_sessions is not None else None,
        resolve_owner=resolve_owner,
        ownership=None if owners is None else Ownership(owners, _owner_of(resolve_owner)),
    )
    # Tools are built from the schemas precomputed at build time when they match (pipeline/precomputed.py).
    catalog = Catalog()
    for name in settings.mcp_toolsets:
        import_module(f"{__package__}.toolsets.{TOOLSETS[name]}").register(catalog, deps)
    if settings.mcp_surface == "hosted":
        from .runtime.surface import keep_hosted_tools

        keep_hosted_tools(catalog)
    compact_tool_schemas(catalog)
    if owners is not None:
        say_account_wide({tool.name: tool for tool in catalog.tools})

    # The pipeline around every request, in order (outermost first). Middleware sees the raw
    # request; extensions intercept tools/call once it is parsed. Nothing else wraps the SDK.
    middleware: list[ServerMiddleware[Any]] = [
        RequestIds(),  # each tool call under its request id (pipeline/tracing.py)
        *([call_metrics(catalog)] if call_metrics is not None else []),  # calls by tool and outcome
        Deadlines(catalog, settings),  # each tool call under its deadline, from the tool's nature
        PromptChecks(catalog),  # prompts/get: unknown names and bad arguments in our words
        ResourceErrors(),  # resources/read: an unknown URI quoted bounded
    ]
    extensions = [
        ArgumentChecks(catalog, _provider_gaps(deps)),  # tools/call: unknown tools, bad arguments
        TopUps(catalog, settings),  # billed calls refused for credits: the top-up question
        Tasks(catalog, TaskSeal(settings), resolve_and_remember, deps.owner),  # long work as tasks
        live_view_app(settings),  # the live view (MCP Apps): one ui:// resource (apps/live_view.py)
    ]
    mcp = TinyFishServer(
        "tinyfish",
        version=__version__,
        instructions=instructions_for(settings.mcp_toolsets, settings.mcp_surface),
        website_url="https://docs.tinyfish.ai",
        auth_server_provider=auth_server_provider,
        token_verifier=token_verifier,
        auth=auth,
        lifespan=lifespan,
        log_level=settings.mcp_log_level,
        tools=catalog.tools,
        middleware=middleware,
        extensions=extensions,
        request_state_security=request_state_security(settings),  # any replica opens requestState
    )
    mcp.catalog = catalog
    catalog.add_to(mcp)
    log.debug("toolsets enabled: %s", ", ".join(settings.mcp_toolsets))
    return mcp


def _owner_of(resolve_owner: OwnerResolver | None) -> OwnerResolver:
    if resolve_owner is None:
        raise ValueError("recording owners needs resolve_owner (who the signed-in user is)")
    return resolve_owner


def default_run_keys(settings: Settings) -> RunKeyStore:
    """Where session_ids are remembered when the transport gives no shared store: a SQLite
    file under the user's state directory (stdio), so a retry after a restart is recognised."""
    if settings.mcp_session_id_store == "memory":
        return MemoryRunKeyStore(settings.mcp_session_id_ttl)
    from .runtime.runkeys_file import FileRunKeyStore

    return FileRunKeyStore(settings.state_dir() / "session-ids.sqlite3", settings.mcp_session_id_ttl)


def _provider_gaps(deps: ToolDeps) -> dict[str, dict[str, str]]:
    """The arguments of fetch_content and search that the active provider cannot honour, and why."""
    fetch, search = deps.providers.fetch, deps.providers.search
    return {
        "fetch_content": {
            name: f"the {fetch.name} fetch provider (TINYFISH_MCP_FETCH_PROVIDER) does not support it"
            for name in fetch.hidden_arguments
        },
        "search": {
            name: f"the {search.name} search provider (TINYFISH_MCP_SEARCH_PROVIDER) does not support it"
            for name in search.hidden_arguments
        },
    }


def streaming_tools(mcp: TinyFishServer) -> frozenset[str]:
    """The tools that can send progress before their result, or act on the caller hanging up.

    They are the tools that take a ``Context``: over HTTP they are always answered on a
    stream, so closing it reaches them (the run tools then cancel the billed run).
    """
    return mcp.catalog.takes_context()
