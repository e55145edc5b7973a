"""Arguments that depend on the active provider: shown only when it honours them.

A provider-only argument is added to a tool's signature (so its schema shows it) only
when that provider is active (``with_extra_arguments``); an argument of the common
signature that the active provider cannot honour is taken out of the advertised schema
(``hide_arguments``), so ``tools/list`` carries the active provider's arguments only. A
hidden argument still reaches the provider if a client sends it, and the provider
refuses it by name with the reason.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..pipeline.catalog import Catalog
from ..upstream.providers import ExtraArgument

__all__ = ["hide_arguments", "with_extra_arguments"]


def with_extra_arguments(
    method: Callable[..., Awaitable[Any]], extras: tuple[ExtraArgument, ...]
) -> Callable[..., Awaitable[Any]]:
    """``method`` (which takes ``**extras``) under a signature listing the provider-only arguments.

    A new function that calls ``method``, named like it: a bound method's signature cannot be
    set, and one set on the class's function would be shared by every server in the process.
    """
    signature = inspect.signature(method, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params += [
        inspect.Parameter(e.name, inspect.Parameter.KEYWORD_ONLY, annotation=e.annotation, default=e.default)
        for e in extras
    ]

    @functools.wraps(method)
    async def tool(*args: Any, **kwargs: Any) -> Any:
        return await method(*args, **kwargs)

    tool.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return tool


def hide_arguments(mcp: Catalog, tool_name: str, names: Iterable[str]) -> None:
    """Take ``names`` out of a catalogued tool's advertised input schema (not out of its model)."""
    hidden = set(names)
    if not hidden:
        return
    tool = mcp.get_tool(tool_name)
    if tool is None:
        return
    properties = tool.parameters.get("properties", {})
    for name in hidden:
        properties.pop(name, None)
    if "required" in tool.parameters:
        tool.parameters["required"] = [n for n in tool.parameters["required"] if n not in hidden]
