"""The 'agent' toolset: start web-agent runs and follow them to their result.

``run_web_automation`` streams a run (``/run-sse``) with progress, inside a call window;
``wait_for_run`` continues where a window closed; ``run_web_automation_async`` and
``batch_create`` only start runs. Tool and argument names are those of TinyFish's hosted
MCP server, so prompts and skills written for it keep working; a ``session_id`` makes a
retried call follow the run it already started (see ``idempotency.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field, ValidationError, WithJsonSchema

from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import CREATES, READS_RUNS
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, shown_id, tool_error, upstream_call
from ..runtime.idempotency import RunClaim, claim_run
from ..runtime.live_view import LIVE_VIEW_META
from ..runtime.recover import NotStartedError, create_runs
from ..runtime.results import (
    RunResult,
    StartedRun,
    StartedRuns,
    bound_result,
    failed_run_error,
)
from ..runtime.schema import as_tool_result, compact_input_schema
from ..upstream.errors import UpstreamError
from ._followed import MaxWait
from ._inputs import (
    AgentConfigInput,
    BrowserProfile,
    CaptureInput,
    CredentialIds,
    FeatureFlagsInput,
    Goal,
    Integration,
    OutputSchema,
    ProfileId,
    ProxyInput,
    RunSpec,
    SessionId,
    Url,
    batch_request,
    run_request,
)
from ._owned_lists import owned_key
from ._run_work import RunTasks, follow_existing_run, follow_new_run
from .prompts import register_prompts

if TYPE_CHECKING:
    from ..upstream.models import RunRequest

__all__ = ["MAX_BATCH", "AgentTools", "register"]

MAX_BATCH = 100  # what /run-batch takes (TinyFish's hosted MCP server stops at 8)
RunIdArg = Annotated[str, Field(min_length=1)]


def _brief(schema: dict[str, Any]) -> dict[str, Any]:
    """A run's argument schema with its nested objects by type only (run_web_automation has them whole)."""
    props = {
        name: {"type": "object"} if sub.get("type") == "object" else sub
        for name, sub in schema["properties"].items()
    }
    return {**schema, "properties": props}


class _OneRunSchema:
    """A batch item's JSON schema: the fields of one run, as ``WithJsonSchema`` would give it.

    Generated when a tool schema is (pydantic calls ``__get_pydantic_json_schema__``), not at
    import: a start from the precomputed schemas never needs it.
    """

    def __repr__(self) -> str:  # part of the tool's fingerprint (pipeline/precomputed.py)
        return "OneRunSchema(RunSpec)"

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        return _brief(compact_input_schema(RunSpec.model_json_schema()))


# The copies of run_web_automation's arguments (the async tool, batch items) describe the
# nested objects by type only: tools/list is sent on every turn. They are checked whole.
SameAsRun = Annotated[dict[str, Any] | None, WithJsonSchema({"type": "object"})]
# Items are advertised with the fields of one run, but checked by ``batch_request`` so
# that a mistake is named ``runs.<index>.<field>`` in our words.
Specs = Annotated[
    list[Annotated[dict[str, Any], _OneRunSchema()]],
    Field(min_length=1, max_length=MAX_BATCH),
]

# What the tools are, for deadlines, recovery and Tasks (pipeline/catalog.py).
_BILLS = Nature(billed=True)
_FOLLOWS = Nature(billed=True, long_running=True, task="run")
_BATCH = Nature(billed=True, long_running=True, task="batch")


def _request(arguments: dict[str, Any]) -> RunRequest:
    """The upstream request from a run tool's arguments (those that describe the run)."""
    try:
        spec = RunSpec.model_validate({name: arguments[name] for name in RunSpec.model_fields})
    except ValidationError as exc:
        raise invalid_input(exc, what="run arguments") from None
    return run_request(
        spec, feature_flags=arguments["feature_flags"], api_integration=arguments["api_integration"]
    )


# The call window (``settings.mcp_call_window``) and the free tools that are served are filled
# in by ``register``.
RUN_DESCRIPTION = (
    "Do a task on a website in a real cloud browser: navigate, click, fill forms, log in, extract "
    "data from dynamic or bot-protected pages. Billed per agent step{free}. goal: numbered steps, "
    "the exact JSON to return, when to stop; output_schema makes results reliable. Waits "
    "max_wait_seconds (default {window:g}), then returns RUNNING: call wait_for_run, never start "
    "the goal again. A COMPLETED run can still have missed its goal: read warning."
)
WAIT_DESCRIPTION = (
    "Wait up to max_wait_seconds (default {window:g}) for a run to finish, reporting its steps "
    "as progress; RUNNING means call again. Free: waiting costs no credits."
)
ASYNC_DESCRIPTION = (
    "Start the same run as run_web_automation (same arguments, billed per step) but return its "
    "run_id at once. Only for work the user wants in the background; follow it with wait_for_run "
    "or get_run. The same session_id returns the run already started."
)
BATCH_DESCRIPTION = (
    f"Start 1-{MAX_BATCH} runs at once, all or none (the API's limit; TinyFish's hosted server "
    "allows 8), each billed per step like run_web_automation. Use it for the same task on several "
    "sites instead of repeated calls. Each item takes run_web_automation's run arguments. Returns "
    "run_ids: poll with batch_status, read results with get_run. Never re-sent: after an error, "
    "check list_runs before sending again."
)


class AgentTools:
    """The agent toolset's tools, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.window = deps.settings.mcp_call_window

    async def run_web_automation(
        self,
        url: Url,
        goal: Goal,
        ctx: Context[Any, Any],
        session_id: SessionId = None,
        use_profile: bool | None = None,
        profile_id: ProfileId = None,
        use_vault: bool | None = None,
        credential_item_ids: CredentialIds = None,
        output_schema: OutputSchema = None,
        browser_profile: BrowserProfile = None,
        proxy_config: ProxyInput | None = None,
        agent_config: AgentConfigInput | None = None,
        capture_config: CaptureInput | None = None,
        feature_flags: FeatureFlagsInput | None = None,
        webhook_url: str | None = None,
        api_integration: Integration = None,
        max_wait_seconds: MaxWait = None,
    ) -> Annotated[CallToolResult, RunResult]:
        """Start a run and follow it within the call window (see RUN_DESCRIPTION)."""
        deps = self.deps
        key = await deps.resolve_key()
        wait = max_wait_seconds or self.window
        request = _request(locals())
        asked_at = anyio.current_time()
        claim = await self._claim(key, session_id, request, wait)
        # Waiting for a concurrent call with the same session_id counts against this call's window.
        wait = max(1.0, wait - (anyio.current_time() - asked_at))
        if isinstance(claim, str):
            return self._deliver(await follow_existing_run(deps, key, claim, ctx, wait))

        async def started(run_id: str) -> None:
            await deps.record_owned(key, "run", [run_id])
            if claim is not None:
                await claim.started(run_id)

        try:
            out = await follow_new_run(deps, key, request, ctx, wait, on_started=started)
        except BaseException as exc:
            if claim is not None:
                await claim.failed(exc, refused=isinstance(exc, NotStartedError))
            raise
        if out.run_id:
            await started(out.run_id)
        return self._deliver(out)

    async def wait_for_run(
        self, run_id: RunIdArg, ctx: Context[Any, Any], max_wait_seconds: MaxWait = None
    ) -> Annotated[CallToolResult, RunResult]:
        """Follow a run already started (see WAIT_DESCRIPTION)."""
        deps = self.deps
        key = await owned_key(deps, "run", run_id, action=f"looking up run {shown_id(run_id)}")
        out = await follow_existing_run(deps, key, run_id, ctx, max_wait_seconds or self.window)
        return self._deliver(out)

    async def run_web_automation_async(
        self,
        url: str,
        goal: str,
        session_id: Annotated[str | None, Field(min_length=1, max_length=200)] = None,
        use_profile: bool | None = None,
        profile_id: str | None = None,
        use_vault: bool | None = None,
        credential_item_ids: list[str] | None = None,
        output_schema: dict[str, Any] | None = None,
        browser_profile: Literal["lite", "stealth"] | None = None,
        proxy_config: SameAsRun = None,
        agent_config: AgentConfigInput | None = None,  # its fields are part of the hosted contract
        capture_config: SameAsRun = None,
        feature_flags: FeatureFlagsInput | None = None,
        webhook_url: str | None = None,
        api_integration: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,59}$")] = None,
    ) -> Annotated[CallToolResult, StartedRun]:
        """Start a run and return its id (see ASYNC_DESCRIPTION)."""
        deps = self.deps
        key = await deps.resolve_key()
        request = _request(locals())
        claim = await self._claim(key, session_id, request, self.window)
        if isinstance(claim, str):
            run = await upstream_call(
                f"looking up run {claim}", deps.client.get_run(key, claim), run_id=claim
            )
            return as_tool_result(
                StartedRun(
                    run_id=claim,
                    status=run.status,
                    next_step=f"An earlier call with this session_id started this run; nothing new was "
                    f"started. Call wait_for_run(run_id='{claim}') for the result.",
                )
            )
        try:
            out = await create_runs(
                deps, key, [request], lambda: deps.client.run_async(key, request), action="starting the run"
            )
        except BaseException as exc:
            if claim is not None:
                await claim.failed(exc, refused=isinstance(exc, NotStartedError))
            raise
        run_id = out.run_ids[0] if out.run_ids else None
        if out.response is not None:
            run_id = out.response.run_id
            if not run_id:
                if claim is not None:
                    await claim.not_created()
                error = out.response.error
                message = error.message if error else "no run_id was returned"
                raise tool_error(UpstreamError(message, code="RUN_NOT_STARTED"), action="starting the run")
        assert run_id is not None
        await deps.record_owned(key, "run", [run_id])
        if claim is not None:
            await claim.started(run_id)
        return as_tool_result(
            StartedRun(
                run_id=run_id,
                status="PENDING",
                next_step=f"Call wait_for_run(run_id='{run_id}') for the result.",
            )
        )

    async def batch_create(self, runs: Specs) -> Annotated[CallToolResult, StartedRuns]:
        """Start many runs at once, all or none (see BATCH_DESCRIPTION)."""
        deps = self.deps
        key = await deps.resolve_key()
        request = batch_request(runs)
        out = await create_runs(
            deps,
            key,
            request.runs,
            lambda: deps.client.run_batch(key, request),
            action="starting the batch",
            what=f"the {len(request.runs)} runs of the batch",
        )
        run_ids = out.run_ids
        if out.response is not None:
            run_ids = out.response.run_ids
        await deps.record_owned(key, "run", list(run_ids))
        if out.response is not None and not run_ids:
            error = out.response.error
            message = error.message if error else "no run_ids were returned"
            failure = UpstreamError(message, code="BATCH_NOT_STARTED")
            raise tool_error(failure, action="starting the batch")
        return as_tool_result(
            StartedRuns(
                run_ids=run_ids,
                next_step="Poll with batch_status(run_ids=[...]); read each result with get_run(id=...).",
            )
        )

    def _deliver(self, out: RunResult) -> CallToolResult:
        """A followed run as the tool result: FAILED is a tool error, a big result is clipped."""
        if out.status == "FAILED":
            raise failed_run_error(out.run_id, out.error)
        return as_tool_result(bound_result(out, self.deps.settings.mcp_max_result_chars))

    async def _claim(
        self, key: str, session_id: str | None, request: RunRequest, wait: float
    ) -> RunClaim | str | None:
        """No session_id: ``None`` (just create). Otherwise a claim to create, or the run id to follow."""
        if session_id is None:
            return None
        deps = self.deps
        return await claim_run(
            deps.run_keys, key, session_id, request, wait=wait, owner=await deps.owner(key)
        )


def _free_instead(toolsets: Sequence[str]) -> str:
    """The free tools a run's description points to for just reading, those that are served."""
    pairs = (("fetch_content", "fetch"), ("search", "search"))
    free = [tool for tool, toolset in pairs if toolset in toolsets]
    if not free:
        return ""
    return f": to just read, {' and '.join(free)} {'are' if len(free) > 1 else 'is'} free"


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the agent tools and the goal-writing prompt on ``mcp``."""
    mcp.add_task_kind(RunTasks(deps))
    mcp.add_task_kind(RunTasks(deps, name="batch"))
    tools = AgentTools(deps)
    run = RUN_DESCRIPTION.format(window=tools.window, free=_free_instead(deps.settings.mcp_toolsets))
    wait = WAIT_DESCRIPTION.format(window=tools.window)
    mcp.tool(annotations=CREATES, meta=LIVE_VIEW_META, nature=_FOLLOWS, description=run)(
        tools.run_web_automation
    )
    mcp.tool(annotations=READS_RUNS, meta=LIVE_VIEW_META, description=wait)(tools.wait_for_run)
    mcp.tool(annotations=CREATES, nature=_BILLS, description=ASYNC_DESCRIPTION)(
        tools.run_web_automation_async
    )
    mcp.tool(annotations=CREATES, nature=_BATCH, description=BATCH_DESCRIPTION)(tools.batch_create)
    register_prompts(mcp)
