"""MCP Tasks (the 2026-07-28 extension ``io.modelcontextprotocol/tasks``), stateless.

A ``tools/call`` of a long-running tool (``Nature(task=...)``) from a client that declares
the extension on that request is made a task: the tool runs as usual while
``follow.handing_off`` closes its call window as soon as the work has an upstream id, and
the answer is a ``CreateTaskResult`` whose ``taskId`` seals the kind, the upstream id and
the owner (``task_ids.py``). Fast tools, and clients that do not declare the extension,
get the ordinary result. Nothing is stored: ``tasks/get`` opens the id and reads TinyFish
through the kind's seam (``follow.TaskKind``), on any replica and after a restart.

* ``tasks/get``: ``working`` with the latest news as ``statusMessage``, or ``completed``
  with the result the tool itself would have returned (a FAILED run is ``completed``
  with an ``isError`` result); a task cancelled upstream is ``cancelled``. ``failed`` is
  never used: it is reserved for JSON-RPC errors, and the work's failures are results.
* ``tasks/cancel`` cancels the work upstream; ``tasks/update`` is acknowledged (no task
  of this server ever asks for input).
* Another owner's task, or an id this deployment did not seal, is "not found" (-32602).

Every task answer names the work it follows in ``_meta["io.tinyfish/work"]`` (ours, not the
extension's: ``{"kind": "run", "id": <run_id>}``, a batch ``{"kind": "batch", "ids": [...]}``),
so a host can hand the live-view app the same work to follow through the tools an app may
call (``get_run`` / ``get_steps``); the id is the caller's own upstream id, the task id stays
sealed. A finished task's ``result`` carries the standard
``_meta["io.modelcontextprotocol/related-task"]`` (``{"taskId": ...}``), as a task's result
did in the 2025-11-25 core Tasks: lifted out of ``tasks/get`` (a host handing it to an app)
it still says which task it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver.server import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, RequestParams, TextContent
from pydantic import ConfigDict, Field

from ..follow.handoff import Look, TaskKind, handing_off
from ..upstream.errors import NotFoundError, UpstreamError
from .catalog import Catalog
from .task_ids import SealedTask, TaskSeal
from .wording import safe_message

__all__ = ["RELATED_TASK", "TASKS", "WORK", "Tasks", "work_reference"]

log = logging.getLogger(__name__)

TASKS = "io.modelcontextprotocol/tasks"
WORK = "io.tinyfish/work"  # ours: which upstream work a task follows (docs/tasks.md)
RELATED_TASK = "io.modelcontextprotocol/related-task"  # the standard key: {"taskId": ...}
MODERN = frozenset({"2026-07-28"})
POLL_INTERVAL_MS = 2000
_NOT_FOUND = "Failed to retrieve task: Task not found"


class TaskParams(RequestParams):
    # Built on the first tasks/* request (defer_build), not at start-up.
    model_config = ConfigDict(populate_by_name=True, extra="allow", defer_build=True)

    task_id: str = Field(alias="taskId", max_length=8192)


class UpdateParams(TaskParams):
    input_responses: dict[str, Any] | None = Field(default=None, alias="inputResponses")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def work_reference(task: SealedTask) -> dict[str, Any]:
    """The ``_meta[WORK]`` of a task: its kind and upstream id (a batch: its run ids, at most 100)."""
    if task.kind == "batch":
        return {"kind": task.kind, "ids": task.ident.split(",")}
    return {"kind": task.kind, "id": task.ident}


def _declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    extensions = capabilities.extensions if capabilities is not None else None
    return bool(extensions) and TASKS in (extensions or {})


class Tasks(Extension):
    """The Tasks extension: long-running tool calls as stateless, sealed tasks."""

    identifier = TASKS

    def __init__(
        self,
        catalog: Catalog,
        seal: TaskSeal,
        resolve_key: Callable[[], Awaitable[str]],
        resolve_owner: Callable[[str], Awaitable[str]],
    ) -> None:
        self._catalog = catalog
        self._seal = seal
        self._resolve_key = resolve_key
        self._resolve_owner = resolve_owner

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskParams, self._get, protocol_versions=MODERN),
            MethodBinding("tasks/update", UpdateParams, self._update, protocol_versions=MODERN),
            MethodBinding("tasks/cancel", TaskParams, self._cancel, protocol_versions=MODERN),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        kind_name = self._catalog.nature(params.name).task
        if kind_name is None or ctx.protocol_version not in MODERN or not _declared(ctx):
            return await call_next(ctx)
        kind = self._catalog.task_kinds[kind_name]
        with handing_off():
            result = await call_next(ctx)
        if not isinstance(result, CallToolResult) or result.is_error or not result.structured_content:
            return result  # nothing to hand off (an error, or a tool answer without an id)
        ident = kind.ident(result.structured_content)
        if ident is None:
            return result
        key = await self._resolve_key()
        created = _now()
        task = SealedTask(kind.name, ident, await self._resolve_owner(key), params.name, created)
        message = f"{params.name} is working upstream: poll tasks/get for its result"
        log.info("tools/call %s handed to a task (%s %s)", params.name, kind.name, ident)
        return {
            "resultType": "task",
            **self._task(self._seal.seal(task), task, "working", message),
        }

    def _task(self, task_id: str, task: SealedTask, status: str, message: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "taskId": task_id,
            "status": status,
            "createdAt": task.created,
            "lastUpdatedAt": _now(),
            "ttlMs": None,
            "pollIntervalMs": POLL_INTERVAL_MS,
            "_meta": {WORK: work_reference(task)},
        }
        if message:
            out["statusMessage"] = safe_message(message)
        return out

    async def _find(
        self, ctx: ServerRequestContext[Any, Any], task_id: str
    ) -> tuple[SealedTask, TaskKind, str]:
        require_client_extension(ctx, TASKS)
        task = self._seal.open(task_id)
        kind = self._catalog.task_kinds.get(task.kind) if task is not None else None
        if task is None or kind is None:
            raise MCPError(code=INVALID_PARAMS, message=_NOT_FOUND)
        key = await self._resolve_key()
        if await self._resolve_owner(key) != task.owner:
            raise MCPError(code=INVALID_PARAMS, message=_NOT_FOUND)
        return task, kind, key

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        task, kind, key = await self._find(ctx, params.task_id)
        try:
            look = await kind.look(key, task.ident)
        except NotFoundError:
            raise MCPError(code=INVALID_PARAMS, message=_NOT_FOUND) from None
        except UpstreamError as exc:
            # The work goes on upstream whatever happened to this look: still working.
            look = Look("working", f"TinyFish could not be read just now ({exc.code}); poll again")
        out = self._task(params.task_id, task, look.status, look.message)
        result = look.result
        if look.error is not None:
            text = safe_message(f"Error executing tool {task.tool}: {look.error}")
            result = CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        if result is not None:
            final = result.model_dump(by_alias=True, mode="json", exclude_none=True)
            final["_meta"] = {**(final.get("_meta") or {}), RELATED_TASK: {"taskId": params.task_id}}
            out["result"] = final
        return out

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        await self._find(ctx, params.task_id)
        return {}  # no task of this server asks for input: responses to unknown requests are ignored

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        task, kind, key = await self._find(ctx, params.task_id)
        try:
            await kind.cancel(key, task.ident)
        except NotFoundError:
            raise MCPError(code=INVALID_PARAMS, message=_NOT_FOUND) from None
        except UpstreamError as exc:
            raise MCPError(
                code=-32603, message=f"Cancelling the task failed upstream ({exc.code}); try again"
            ) from None
        log.info("task of %s cancelled upstream (%s %s)", task.tool, task.kind, task.ident)
        return {}
