"""The argument layer: every tool call and prompt is checked here before the SDK sees it.

Installed once by ``server.build_server`` over every registered tool and prompt, so a
tool added by any toolset gets it without code of its own. From the tool's own input
schema and argument model it

* refuses an argument the tool does not take, by name, with the closest known name
  for a likely typo and the list of arguments the tool takes (the schema itself stays
  free of ``additionalProperties``, which some model providers reject);
* accepts a single string where a list of strings is expected (``urls="a.com"``);
* bounds every value: a string to its schema's ``maxLength`` or :data:`MAX_TEXT`, a
  structured value to :data:`MAX_VALUE_CHARS` and :data:`MAX_DEPTH` levels;
* turns every validation failure into one line per argument in our words
  (``_wording.py``), instead of the SDK's pydantic dump.

A refused call never reaches the tool, so nothing is sent upstream and nothing billed.
``MCPServer`` offers no public hook before its own validation: the registered
``Tool``/``Prompt`` objects are swapped for subclasses that check first (the one
private access, like ``_schema.compact_tool_schemas``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import Message, Prompt
from mcp.server.mcpserver.prompts.manager import PromptManager
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.tools.tool_manager import ToolManager
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, InputRequiredResult
from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from ._wording import describe_errors, join_problems, safe_message, safe_text, shown
from .surface import serving

if TYPE_CHECKING:
    from mcp.server.mcpserver.context import Context

__all__ = [
    "MAX_DEPTH",
    "MAX_TEXT",
    "MAX_VALUE_CHARS",
    "ArgumentError",
    "check_arguments",
    "install_argument_checks",
]

MAX_TEXT = 10_000
"""Characters in one string argument whose schema sets no ``maxLength``."""
MAX_VALUE_CHARS = 100_000
"""Characters (as JSON, roughly) in one structured argument such as ``output_schema``."""
MAX_DEPTH = 32
"""Nesting levels in one structured argument."""
MAX_NAME = 64
"""An argument name longer than this is no typo: it is not echoed whole."""


class ArgumentError(Exception):
    """The arguments of a call were refused; ``problems`` has one line per argument."""

    def __init__(self, problems: list[str], footer: str) -> None:
        super().__init__(join_problems(problems, footer=footer))
        self.problems = problems


def _takes(schema: dict[str, Any]) -> str:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    if not properties:
        return "no arguments"
    return ", ".join(f"{name} (required)" if name in required else name for name in properties)


def _unknown(name: str, known: list[str], what: str) -> str:
    shown_name = safe_text(name, MAX_NAME)
    close: list[str] = []
    if 2 < len(name) <= MAX_NAME:
        # A shortened or lengthened name ("sort" for "sort_direction") first, then a typo.
        close = [k for k in known if k.startswith(name) or name.startswith(k)][:1]
        close = close or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"`{shown_name}` is not an argument of this {what}{hint}"


def _walk(value: Any) -> Iterator[tuple[int, Any]]:
    """Every node of a JSON value with its depth, iteratively (deep values cannot blow the stack)."""
    stack: list[tuple[int, Any]] = [(0, value)]
    while stack:
        depth, node = stack.pop()
        yield depth, node
        if isinstance(node, dict):
            stack.extend((depth + 1, item) for item in node.values())
            stack.extend((depth + 1, key) for key in node)
        elif isinstance(node, list | tuple):
            stack.extend((depth + 1, item) for item in node)


def _size_problem(name: str, value: Any, field: dict[str, Any]) -> str | None:
    """Why ``value`` is too big for the argument ``name``, or None."""
    kind = field.get("type")
    if isinstance(value, str):
        limit = field.get("maxLength", MAX_TEXT) if kind in (None, "string") else MAX_VALUE_CHARS
        if len(value) > limit:
            return f"`{name}` is too long: {len(value):,} characters, at most {limit:,}"
        return None
    item_limit = (field.get("items") or {}).get("maxLength", MAX_TEXT)
    size = 0
    for depth, node in _walk(value):
        if depth > MAX_DEPTH:
            return f"`{name}` is nested too deeply: at most {MAX_DEPTH} levels"
        if isinstance(node, str):
            if depth == 1 and kind == "array" and len(node) > item_limit:
                return f"`{name}` has an item of {len(node):,} characters, at most {item_limit:,}"
            size += len(node) + 3
        else:
            size += 8
        if size > MAX_VALUE_CHARS:
            return f"`{name}` is too large: at most about {MAX_VALUE_CHARS:,} characters as JSON"
    return None


def _as_list(value: Any, field: dict[str, Any]) -> Any:
    """A lone string where a list of strings is expected becomes a one-item list.

    A string that is itself a JSON list is left for the SDK, which parses it.
    """
    if field.get("type") != "array" or (field.get("items") or {}).get("type") != "string":
        return value
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        try:
            if isinstance(json.loads(value), list):
                return value
        except (ValueError, RecursionError):
            pass
    return [value]


def check_arguments(
    arguments: dict[str, Any],
    schema: dict[str, Any],
    validate: Callable[[dict[str, Any]], Any] | None = None,
    *,
    what: str = "tool",
    unavailable: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``arguments`` checked against ``schema`` (and ``validate``, the argument model), normalized.

    ``unavailable`` names arguments the tool has but cannot take here, with the reason (an
    argument the active provider cannot honour). Raises :class:`ArgumentError` naming every problem.
    """
    properties: dict[str, Any] = schema.get("properties", {})
    known = list(properties)
    problems: list[str] = []
    unknown = [name for name in arguments if name not in properties]
    reasons = unavailable or {}
    problems.extend(
        f"`{name}` cannot be used here: {reasons[name]}" if name in reasons else _unknown(name, known, what)
        for name in unknown
    )
    cleaned: dict[str, Any] = {}
    too_big = False
    for name, value in arguments.items():
        if name not in properties:
            continue
        field = properties[name]
        value = _as_list(value, field)
        problem = _size_problem(name, value, field)
        if problem:
            problems.append(problem)
            too_big = True
        cleaned[name] = value
    if validate is not None and not too_big:
        try:
            validate(cleaned)
        except ValidationError as exc:
            problems.extend(describe_errors(exc, schema))
    if problems:
        footer = "Fix these and call again."
        if unknown:
            footer = f"This {what} takes: {_takes(schema)}. {footer}"
        raise ArgumentError(problems, footer)
    return cleaned


def _cause(problems: list[str]) -> ValidationError:
    """A ValidationError the SDK logs as field names only (never the caller's values)."""
    details: list[InitErrorDetails] = [
        {
            "type": PydanticCustomError("argument", "invalid argument"),
            "loc": (line.split("`")[1] if line.count("`") >= 2 else "(arguments)",),
            "input": None,
        }
        for line in problems[:8]
    ]
    return ValidationError.from_exception_data("arguments", details)


class CheckedTool(Tool):
    """A registered tool whose arguments pass :func:`check_arguments` before the SDK's validation."""

    # Arguments of the tool that the active provider cannot honour, with the reason.
    unavailable: dict[str, str] = Field(default_factory=dict, exclude=True)
    # The tools this server serves, for wording that names another tool (None: not narrowed).
    served: frozenset[str] | None = Field(default=None, exclude=True)

    async def run(
        self,
        arguments: dict[str, Any],
        context: Context[Any, Any],
        convert_result: bool = False,
    ) -> Any:
        try:
            cleaned = check_arguments(
                arguments, self.parameters, self.fn_metadata.validate_arguments, unavailable=self.unavailable
            )
        except ArgumentError as exc:
            raise ToolError(f"Error executing tool {self.name}: {exc}") from _cause(exc.problems)
        try:
            with serving(self.served):
                return await super().run(cleaned, context, convert_result)
        except ToolError as exc:
            # Tool code quotes its input in errors ("while cancelling run <id>"): make it safe here.
            safe = safe_message(str(exc))
            if safe == str(exc):
                raise
            raise type(exc)(safe) from exc.__cause__


def _prompt_schema(prompt: Prompt) -> dict[str, Any]:
    arguments = prompt.arguments or []
    return {
        "type": "object",
        "properties": {arg.name: {"type": "string"} for arg in arguments},
        "required": [arg.name for arg in arguments if arg.required],
    }


class CheckedPrompt(Prompt):
    """A prompt whose arguments are checked like a tool's; a problem is a JSON-RPC invalid-params error."""

    async def render(
        self, arguments: dict[str, Any] | None, context: Context[Any, Any]
    ) -> list[Message] | InputRequiredResult:
        schema = _prompt_schema(self)
        given = dict(arguments or {})
        problems = [
            f"`{name}` must be a string; got {shown(value)}"
            for name, value in given.items()
            if name in schema["properties"] and not isinstance(value, str)
        ]
        problems.extend(
            f"`{name}` is required and missing" for name in schema["required"] if name not in given
        )
        try:
            check_arguments(given, schema, what="prompt")
        except ArgumentError as exc:
            problems = exc.problems + problems
        if problems:
            message = join_problems(problems, footer=f"The prompt {self.name} takes: {_takes(schema)}.")
            raise MCPError(code=INVALID_PARAMS, message=message)
        return await super().render(given, context)


def _unknown_name(kind: str, name: str, known: list[str]) -> str:
    """The message for a call to a tool or prompt that does not exist, naming those that do."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6) if len(name) <= MAX_NAME else []
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"Unknown {kind} `{safe_text(name, MAX_NAME)}`{hint}. This server's {kind}s: {', '.join(known)}."


class _CheckedToolManager(ToolManager):
    """The SDK's tool manager, with a call to an unknown tool answered by name (bounded, with the list)."""

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        context: Context[Any, Any],
        convert_result: bool = False,
    ) -> Any:
        if name not in self._tools:
            raise ToolError(_unknown_name("tool", name, list(self._tools)))
        return await super().call_tool(name, arguments, context, convert_result)


class _CheckedPromptManager(PromptManager):
    """The SDK's prompt manager, with an unknown prompt an invalid-params error (not a logged crash)."""

    def get_prompt(self, name: str) -> Prompt | None:
        prompt = super().get_prompt(name)
        if prompt is None:
            raise MCPError(code=INVALID_PARAMS, message=_unknown_name("prompt", name, list(self._prompts)))
        return prompt


def install_argument_checks(
    mcp: MCPServer[Any], unavailable: dict[str, dict[str, str]] | None = None
) -> None:
    """Put the argument layer in front of every tool and prompt registered on ``mcp``.

    ``unavailable`` maps a tool to the arguments it cannot take here and why. Each call
    also learns which tools the server serves (``surface.served``), so that its answer
    names no other tool.
    """
    served = frozenset(mcp._tool_manager._tools)
    # The managers gain behaviour, not state: swapping their class keeps everything registered.
    mcp._tool_manager.__class__ = _CheckedToolManager
    mcp._prompt_manager.__class__ = _CheckedPromptManager
    tools = mcp._tool_manager._tools
    for name, tool in list(tools.items()):
        if not isinstance(tool, CheckedTool):
            tools[name] = CheckedTool(
                **{field: getattr(tool, field) for field in Tool.model_fields},
                unavailable=(unavailable or {}).get(name, {}),
                served=served,
            )
    prompts = mcp._prompt_manager._prompts
    for name, prompt in list(prompts.items()):
        if not isinstance(prompt, CheckedPrompt):
            prompts[name] = CheckedPrompt(**{field: getattr(prompt, field) for field in Prompt.model_fields})
