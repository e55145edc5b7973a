"""The 'agent' toolset: start web-agent runs and follow them to their result.

``run_web_automation`` streams a run (``/run-sse``) with progress, inside a call window;
``wait_for_run`` continues where a window closed; ``run_web_automation_async`` and
``run_web_automation_batch`` only start runs. The first tool names match TinyFish's
hosted MCP server, so prompts written for it keep working.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from ..upstream.errors import UpstreamError
from ._inputs import (
    BrowserProfile,
    CredentialIds,
    MaxSteps,
    OutputSchema,
    Profile,
    ProxyInput,
    RunSpec,
    Url,
    batch_request,
    run_request,
)
from ._recover import create_runs
from ._schema import as_tool_result
from ._watch import follow_existing_run, follow_new_run
from .context import ToolDeps
from .errors import tool_error
from .prompts import register_prompts
from .results import (
    RunResult,
    StartedRun,
    StartedRuns,
    bound_result,
    failed_run_error,
)

__all__ = ["register"]

MaxWait = Annotated[float | None, Field(ge=1, le=600)]
RunIdArg = Annotated[str, Field(min_length=1)]
# Items are checked by ``batch_request`` (same fields as run_web_automation), so the
# schema does not repeat run_web_automation's arguments: tools/list has a 12 KB budget.
Specs = Annotated[
    list[dict[str, Any]],
    Field(min_length=1, max_length=100, description="Each: run_web_automation's arguments"),
]

_STARTS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
_WAITS = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def _deliver(deps: ToolDeps, out: RunResult) -> CallToolResult:
    """A followed run as the tool result: FAILED is a tool error, a big result is clipped."""
    if out.status == "FAILED":
        raise failed_run_error(out.run_id, out.error)
    return as_tool_result(bound_result(out, deps.settings.mcp_max_result_chars))


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register the agent tools and the goal-writing prompt on ``mcp``."""
    window = deps.settings.mcp_call_window

    @mcp.tool(
        annotations=_STARTS,
        description=(
            "Do a task on a website in a real cloud browser; goal = exact steps, fields, stop rules. "
            f"Waits max_wait_seconds (default {window:g}), then returns RUNNING: call wait_for_run. "
            "Check warning on COMPLETED."
        ),
    )
    async def run_web_automation(
        url: Url,
        goal: str,
        ctx: Context[Any, Any],
        browser_profile: BrowserProfile = None,
        proxy_config: ProxyInput | None = None,
        output_schema: OutputSchema = None,
        max_steps: MaxSteps = None,
        use_vault: bool | None = None,
        credential_item_ids: CredentialIds = None,
        webhook_url: str | None = None,
        max_wait_seconds: MaxWait = None,
    ) -> Annotated[CallToolResult, RunResult]:
        key = await deps.resolve_key()
        request = run_request(
            RunSpec(
                url=url,
                goal=goal,
                browser_profile=browser_profile,
                proxy_config=proxy_config,
                output_schema=output_schema,
                max_steps=max_steps,
                use_vault=use_vault,
                credential_item_ids=credential_item_ids,
                webhook_url=webhook_url,
            )
        )
        out = await follow_new_run(deps, key, request, ctx, max_wait_seconds or window)
        return _deliver(deps, out)

    @mcp.tool(
        annotations=_WAITS,
        description=(
            f"Wait up to max_wait_seconds (default {window:g}) for a run to finish; RUNNING means call again."
        ),
    )
    async def wait_for_run(
        run_id: RunIdArg, ctx: Context[Any, Any], max_wait_seconds: MaxWait = None
    ) -> Annotated[CallToolResult, RunResult]:
        key = await deps.resolve_key()
        out = await follow_existing_run(deps, key, run_id, ctx, max_wait_seconds or window)
        return _deliver(deps, out)

    @mcp.tool(
        annotations=_STARTS,
        description="Start a run like run_web_automation but return its run_id at once.",
    )
    async def run_web_automation_async(
        url: str,
        goal: str,
        browser_profile: Profile = None,
        proxy_config: ProxyInput | None = None,
        output_schema: dict[str, Any] | None = None,
        max_steps: MaxSteps = None,
        use_vault: bool | None = None,
        credential_item_ids: list[str] | None = None,
        webhook_url: str | None = None,
    ) -> Annotated[CallToolResult, StartedRun]:
        key = await deps.resolve_key()
        request = run_request(
            RunSpec(
                url=url,
                goal=goal,
                browser_profile=browser_profile,
                proxy_config=proxy_config,
                output_schema=output_schema,
                max_steps=max_steps,
                use_vault=use_vault,
                credential_item_ids=credential_item_ids,
                webhook_url=webhook_url,
            )
        )
        out = await create_runs(
            deps, key, [request], lambda: deps.client.run_async(key, request), action="starting the run"
        )
        run_id = out.run_ids[0] if out.run_ids else None
        if out.response is not None:
            run_id = out.response.run_id
            if not run_id:
                error = out.response.error
                message = error.message if error else "no run_id was returned"
                raise tool_error(UpstreamError(message, code="RUN_NOT_STARTED"), action="starting the run")
        assert run_id is not None
        return as_tool_result(
            StartedRun(
                run_id=run_id,
                status="PENDING",
                next_step=f"Call wait_for_run(run_id='{run_id}') for the result.",
            )
        )

    @mcp.tool(
        annotations=_STARTS,
        description=(
            "Start 1-100 runs (all or none); returns run_ids for get_runs. After an error, check "
            "list_runs before resending."
        ),
    )
    async def run_web_automation_batch(runs: Specs) -> Annotated[CallToolResult, StartedRuns]:
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
            if not run_ids:
                error = out.response.error
                message = error.message if error else "no run_ids were returned"
                failure = UpstreamError(message, code="BATCH_NOT_STARTED")
                raise tool_error(failure, action="starting the batch")
        return as_tool_result(
            StartedRuns(
                run_ids=run_ids,
                next_step="Check progress with get_runs(run_ids=[...]); read one result with get_run.",
            )
        )

    register_prompts(mcp)
