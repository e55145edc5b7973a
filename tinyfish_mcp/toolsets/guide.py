"""The 'guide' toolset: ``guide_next_step``, the user's next TinyFish step from their account.

Nothing here is a fixed text: each call reads the account (wallet, the first page of
search, fetch and browser usage, runs, profiles, vault connections) at once and picks
the first step the user has not taken, in the order a newcomer meets TinyFish: search,
read a page, a run (needs credit), a browser session, a saved login, a password
manager, a monitor. A part that cannot be read is left out of the reasoning and named.
Only tools this server serves are suggested; the model is told to ask the user first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import anyio
from mcp_types import CallToolResult

from ..pipeline.catalog import Catalog
from ..runtime.annotations import READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.schema import OutputModel, as_tool_result
from ..runtime.surface import served
from ..upstream.constants import TOP_UP_URL
from ..upstream.errors import UpstreamError
from ..upstream.models import ListRunsParams
from ..upstream.usage import UsageQuery

__all__ = ["AccountState", "GuideTools", "NextStep", "register"]

DESCRIPTION = (
    "The user's next TinyFish onboarding step, from their real account (balance, what they have "
    "used, profiles, vault). Show it, ask the user, and wait before running the suggested tool. Free."
)
READ_BUDGET = 8.0  # seconds for reading the whole account state


class AccountState(OutputModel):
    balance: str | None = None
    searches: int | None = None
    fetches: int | None = None
    runs: int | None = None
    browser_sessions: int | None = None
    profiles: int | None = None
    vault_connected: bool | None = None
    unread: list[str] | None = None


class NextStep(OutputModel):
    step: str
    tool: str | None = None
    why: str
    try_this: str | None = None
    account: AccountState
    ask_user: str


@dataclass(frozen=True)
class _Step:
    name: str
    tool: str | None
    why: str
    example: str | None


def _no_credit(balance: str | None) -> bool:
    try:
        return balance is not None and Decimal(balance) <= 0
    except InvalidOperation:
        return False


def _steps(state: AccountState) -> list[_Step]:
    """Every step not yet taken, in onboarding order (unknown counts are not taken as zero)."""
    steps: list[_Step] = []
    if state.searches == 0:
        steps.append(
            _Step(
                "search",
                "search",
                "You have not searched yet; search is free.",
                "search(query='latest TinyFish release notes')",
            )
        )
    if state.fetches == 0:
        steps.append(
            _Step(
                "read_a_page",
                "fetch_content",
                "You have not read a page yet; fetch_content is free.",
                "fetch_content(urls=['https://docs.tinyfish.ai'])",
            )
        )
    if state.runs == 0:
        if _no_credit(state.balance):
            steps.append(
                _Step(
                    "top_up",
                    None,
                    f"A web automation run needs credit and the balance is "
                    f"{state.balance}: top up at {TOP_UP_URL}.",
                    None,
                )
            )
        else:
            steps.append(
                _Step(
                    "first_run",
                    "run_web_automation",
                    "You have not run a web automation yet (billed per step).",
                    "run_web_automation(url='https://scrapeme.live/shop', "
                    "goal='Return the first 3 product names and prices as JSON')",
                )
            )
    if state.browser_sessions == 0:
        steps.append(
            _Step(
                "browser_session",
                "create_browser_session",
                "You have not opened a remote browser for your own Playwright code yet.",
                "create_browser_session(timeout_seconds=120)",
            )
        )
    if state.profiles == 0:
        steps.append(
            _Step(
                "saved_login",
                "create_profile",
                "No Browser Context Profile yet: save a login once and runs start signed in.",
                "create_profile(name='Work accounts')",
            )
        )
    if state.vault_connected is False:
        steps.append(
            _Step(
                "password_manager",
                None,
                "No password manager is connected: connect 1Password or "
                "Bitwarden at https://agent.tinyfish.ai (Settings > Vault) so runs can log in.",
                None,
            )
        )
    steps.append(
        _Step(
            "monitor",
            "create_monitor",
            "Watch a page or a topic on a schedule (billed per check).",
            "create_monitor(type='fetch', config={'url': 'https://example.com/pricing'}, "
            "schedule_cron='0 9 * * 1')",
        )
    )
    return steps


async def _read(deps: ToolDeps, key: str) -> AccountState:
    state = AccountState()
    unread: list[str] = []

    async def part(name: str, read: Callable[[], Awaitable[Any]]) -> None:
        try:
            setattr(state, name, await read())
        except UpstreamError:
            unread.append(name)

    async def count(kind: Any) -> int:
        page = await deps.client.usage.list(key, kind, UsageQuery(limit=1, page=1))
        return page.total if page.total is not None else len(page.records)

    async def balance() -> str:
        return (await deps.client.wallet.get(key)).available_balance

    async def runs() -> int:
        listed = await deps.client.list_runs(key, ListRunsParams(limit=1))
        return listed.pagination.total if listed.pagination else len(listed.data)

    async def profiles() -> int:
        return len((await deps.client.profiles.list(key)).profiles)

    async def vault() -> bool:
        return bool((await deps.client.list_vault_connections(key)).connections)

    with anyio.move_on_after(READ_BUDGET):
        async with anyio.create_task_group() as group:
            group.start_soon(part, "balance", balance)
            group.start_soon(part, "searches", lambda: count("search"))
            group.start_soon(part, "fetches", lambda: count("fetch"))
            group.start_soon(part, "runs", runs)
            group.start_soon(part, "browser_sessions", lambda: count("browser"))
            group.start_soon(part, "profiles", profiles)
            group.start_soon(part, "vault_connected", vault)
    names = ("balance", "searches", "fetches", "runs", "browser_sessions", "profiles", "vault_connected")
    unread += [n for n in names if getattr(state, n) is None and n not in unread]
    state.unread = sorted(unread) or None
    return state


class GuideTools:
    """The guide toolset's tool, bound to what it needs; ``register`` names it."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps

    async def guide_next_step(self) -> Annotated[CallToolResult, NextStep]:
        key = await self.deps.resolve_key()
        state = await _read(self.deps, key)
        steps = [s for s in _steps(state) if s.tool is None or served(s.tool)]
        step = steps[0] if steps else _Step("done", None, "You have used every TinyFish product here.", None)
        return as_tool_result(
            NextStep(
                step=step.name,
                tool=step.tool,
                why=step.why,
                try_this=step.example,
                account=state,
                ask_user="Ask the user whether to do this now; wait for their answer before calling the tool."
                if step.tool
                else "Tell the user; nothing to call.",
            )
        )


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``guide_next_step`` on ``mcp``."""
    mcp.tool(description=DESCRIPTION, annotations=READ_ONLY)(GuideTools(deps).guide_next_step)
