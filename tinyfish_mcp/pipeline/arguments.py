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
Tools are checked by :class:`ArgumentChecks`, an ``Extension`` whose ``tools/call``
interceptor answers a refusal as the tool's error result; prompts by
:class:`PromptChecks`, a ``Server`` middleware (the SDK has no prompt interceptor)
that refuses with a JSON-RPC invalid-params error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.extension import Extension
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, TextContent
from pydantic import ValidationError

from ..runtime.surface import serving
from .catalog import Catalog
from .wording import describe_errors, join_problems, safe_message, safe_text, shown

__all__ = [
    "MAX_DEPTH",
    "MAX_TEXT",
    "MAX_VALUE_CHARS",
    "ArgumentChecks",
    "ArgumentError",
    "PromptChecks",
    "check_arguments",
]

log = logging.getLogger("mcp.server.mcpserver.server")  # where the SDK logs the refusals it makes

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


def _close_matches(name: str, known: list[str]) -> list[str]:
    from difflib import get_close_matches  # only a refused call suggests a name: not at start-up

    return get_close_matches(name, known, n=1, cutoff=0.6)


def _unknown(name: str, known: list[str], what: str) -> str:
    shown_name = safe_text(name, MAX_NAME)
    close: list[str] = []
    if 2 < len(name) <= MAX_NAME:
        # A shortened or lengthened name ("sort" for "sort_direction") first, then a typo.
        close = [k for k in known if k.startswith(name) or name.startswith(k)][:1]
        close = close or _close_matches(name, known)
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


def _cause(problems: list[str]) -> list[str]:
    """The argument names a refusal is about, for the log (never the caller's values)."""
    return sorted({line.split("`")[1] if line.count("`") >= 2 else "(arguments)" for line in problems[:8]})


def _unknown_name(kind: str, name: str, known: list[str]) -> str:
    """The message for a call to a tool or prompt that does not exist, naming those that do."""
    close = _close_matches(name, known) if len(name) <= MAX_NAME else []
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"Unknown {kind} `{safe_text(name, MAX_NAME)}`{hint}. This server's {kind}s: {', '.join(known)}."


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


class ArgumentChecks(Extension):
    """The argument layer of ``tools/call``: unknown tools and bad arguments answered in our words.

    A call that passes goes on with its arguments normalized (a lone string where a list
    is expected). The SDK's interceptor seam has no way to hand the handler other
    arguments, but it documents that the handler is invoked with the very ``params``
    object the interceptor received: the normalized arguments are written into that
    object's ``arguments`` dict (the one exception to "no rewriting", kept to this line).
    Error texts a tool built from its input are made safe on the way out.
    """

    identifier = "ai.tinyfish/arguments"

    def __init__(self, catalog: Catalog, unavailable: dict[str, dict[str, str]] | None = None) -> None:
        self._catalog = catalog
        self._unavailable = unavailable or {}
        self._served = frozenset(tool.name for tool in catalog.tools)

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        tool = self._catalog.get_tool(params.name)
        if tool is None:
            text = _unknown_name("tool", params.name, [t.name for t in self._catalog.tools])
            log.info("Tool %r failed: %r", safe_text(params.name, MAX_NAME), text)
            return _error(text)
        arguments = params.arguments if params.arguments is not None else {}
        try:
            cleaned = check_arguments(
                arguments,
                tool.parameters,
                tool.fn_metadata.validate_arguments,
                unavailable=self._unavailable.get(tool.name),
            )
        except ArgumentError as exc:
            log.info("Tool %r rejected arguments: %r", tool.name, _cause(exc.problems))
            return _error(f"Error executing tool {tool.name}: {exc}")
        if params.arguments is None:
            params.arguments = cleaned
        else:
            params.arguments.clear()
            params.arguments.update(cleaned)
        # Wording that names another tool asks whether this server serves it (runtime/surface.py).
        with serving(self._served):
            result = await call_next(ctx)
        if isinstance(result, CallToolResult) and result.is_error:
            for block in result.content:
                if isinstance(block, TextContent):
                    block.text = safe_message(block.text)
        return result


def _prompt_schema(prompt: Prompt) -> dict[str, Any]:
    arguments = prompt.arguments or []
    return {
        "type": "object",
        "properties": {arg.name: {"type": "string"} for arg in arguments},
        "required": [arg.name for arg in arguments if arg.required],
    }


def _prompt_problems(prompt: Prompt, given: dict[str, Any]) -> list[str]:
    schema = _prompt_schema(prompt)
    problems = [
        f"`{name}` must be a string; got {shown(value)}"
        for name, value in given.items()
        if name in schema["properties"] and not isinstance(value, str)
    ]
    problems.extend(f"`{name}` is required and missing" for name in schema["required"] if name not in given)
    try:
        check_arguments(given, schema, what="prompt")
    except ArgumentError as exc:
        problems = exc.problems + problems
    return problems


class PromptChecks(ServerMiddleware[Any]):
    """``prompts/get`` with an unknown name or bad arguments: one invalid-params error in our words."""

    def __init__(self, catalog: Catalog) -> None:
        self._prompts = {prompt.name: prompt for prompt in catalog.prompts}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "prompts/get" or not ctx.params or not isinstance(ctx.params.get("name"), str):
            return await call_next(ctx)
        name: str = ctx.params["name"]
        prompt = self._prompts.get(name)
        if prompt is None:
            raise MCPError(code=INVALID_PARAMS, message=_unknown_name("prompt", name, list(self._prompts)))
        arguments = ctx.params.get("arguments")
        given = dict(arguments) if isinstance(arguments, dict) else {}
        problems = _prompt_problems(prompt, given)
        if problems:
            takes = _takes(_prompt_schema(prompt))
            raise MCPError(
                code=INVALID_PARAMS,
                message=join_problems(problems, footer=f"The prompt {name} takes: {takes}."),
            )
        return await call_next(ctx)
