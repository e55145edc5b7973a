"""The server's tools, prompts and resources, gathered before the ``MCPServer`` exists.

Toolsets register on a :class:`Catalog` with the decorators they would use on the
server (``tool``, ``prompt``, ``resource``). The catalog builds each ``Tool`` (from the
precomputed schemas when they match, ``precomputed.py``) and ``build_server`` hands the
tools to the SDK as ``MCPServer(tools=...)``, its own constructor argument; prompts and
resources go through ``add_prompt`` and the ``resource`` decorator. Nothing edits the
server's managers afterwards: schema compaction and provider-hidden arguments edit the
catalog's tools before the server is built.

Each tool also declares its :class:`Nature` here, as data: whether it creates something
billed, whether its work runs for minutes (and so may become an MCP task), whether it
only reads, and which deadline budget a quick call draws on. Deadlines, recovery and
Tasks read these flags, never lists of tool names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.server.mcpserver.tools.base import Tool
from mcp_types import Icon, ToolAnnotations

from ..follow.handoff import TaskKind
from .precomputed import build_tool, load_cache

__all__ = ["Budget", "Catalog", "Nature"]

F = TypeVar("F", bound=Callable[..., Any])
Budget = Literal["read", "search", "fetch"]


@dataclass(frozen=True)
class Nature:
    """What a tool is, for the rules keyed on it."""

    billed: bool = False  # it may create something billed (a run, a session, a dataset)
    long_running: bool = False  # its work goes on for minutes upstream: a task for clients with tasks
    read_only: bool = False  # it changes nothing (from its readOnlyHint annotation)
    budget: Budget = "read"  # the deadline a quick call draws on (long-running tools use their window)
    task: str | None = None  # the kind of work a long-running call hands to an MCP task (its TaskKind's name)


class Catalog:
    """Tools, prompts and resources registered by the toolsets, in order."""

    def __init__(self, schema_cache: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self._cache = load_cache() if schema_cache is None else schema_cache
        self._tools: dict[str, Tool] = {}
        self._natures: dict[str, Nature] = {}
        self.prompts: list[Prompt] = []
        self._resources: list[tuple[tuple[Any, ...], dict[str, Any], Callable[..., Any]]] = []
        self.task_kinds: dict[str, TaskKind] = {}  # the kinds of long-running work, by name (``tasks.py``)

    def tool(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
        *,
        nature: Nature | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function as a tool (``MCPServer.tool``'s arguments, plus its nature)."""

        def decorator(fn: F) -> F:
            tool = build_tool(
                self._cache,
                fn,
                name=name,
                title=title,
                description=description,
                annotations=annotations,
                icons=icons,
                meta=meta,
                structured_output=structured_output,
            )
            if tool.name not in self._tools:
                self._tools[tool.name] = tool
                read_only = bool(annotations and annotations.read_only_hint)
                declared = nature or Nature()
                self._natures[tool.name] = Nature(
                    billed=declared.billed,
                    long_running=declared.long_running,
                    read_only=read_only,
                    budget=declared.budget,
                    task=declared.task,
                )
            return fn

        return decorator

    def prompt(
        self, name: str | None = None, title: str | None = None, description: str | None = None
    ) -> Callable[[F], F]:
        """Register the decorated function as a prompt."""

        def decorator(fn: F) -> F:
            self.prompts.append(Prompt.from_function(fn, name=name, title=title, description=description))
            return fn

        return decorator

    def resource(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """Register the decorated function as a resource (``MCPServer.resource``'s arguments)."""

        def decorator(fn: F) -> F:
            self._resources.append((args, kwargs, fn))
            return fn

        return decorator

    def add_task_kind(self, kind: TaskKind) -> None:
        """Make ``kind`` readable as a task (tools name it in ``Nature(task=...)``)."""
        self.task_kinds[kind.name] = kind

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def remove_tool(self, name: str) -> None:
        self._tools.pop(name, None)
        self._natures.pop(name, None)

    def get_tool(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def nature(self, name: str) -> Nature:
        return self._natures.get(name, Nature())

    def takes_context(self) -> frozenset[str]:
        """The tools that take a ``Context``: they may send progress before their result."""
        return frozenset(tool.name for tool in self._tools.values() if tool.context_kwarg is not None)

    def add_to(self, mcp: MCPServer[Any]) -> None:
        """Give ``mcp`` the prompts and resources (its tools came with its construction)."""
        for prompt in self.prompts:
            mcp.add_prompt(prompt)
        for args, kwargs, fn in self._resources:
            mcp.resource(*args, **kwargs)(fn)
