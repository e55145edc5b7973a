"""Making the generated tool schemas small and acceptable to every client.

Pydantic's JSON schemas are correct but verbose: a title on every property, ``$defs``
with ``$ref``, and ``anyOf [X, null]`` for every optional argument. ``tools/list`` is
sent to the model on every turn and has a 20 KB budget, and some clients mishandle
``$ref``. So after registration the schemas are rewritten, still generated from the
models (never written by hand):

* inputs: titles and empty defaults (null, false, 0) dropped, ``$ref`` inlined, and an optional
  argument advertised as its plain type (leaving it out is how a model says "none";
  an explicit ``null`` is still accepted by the argument model);
* outputs: titles, descriptions and defaults dropped, ``$ref`` inlined. Clients
  validate results against this schema, so it must stay exact: a result model based on
  :class:`OutputModel` never sends a null field (it leaves it out), so its schema drops
  the null branches like an input, and describes nested objects by type only; any
  other model keeps its nulls, folded into ``type: [T, "null"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from ..pipeline.catalog import Catalog
from ..pipeline.precomputed import from_cache

__all__ = [
    "OutputModel",
    "as_tool_result",
    "compact_input_schema",
    "compact_output_schema",
    "compact_schemas",
    "compact_tool_schemas",
    "schema_bounds",
]

_DROP = frozenset({"title", "$defs", "$schema"})


def schema_bounds(
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    max_items: int | None = None,
    description: str | None = None,
) -> Any:
    """The one way a tool argument declares its bounds: a pydantic ``Field`` whose schema shows them.

    The bounds sit at the top of the argument's schema (beside ``anyOf`` for an optional
    one, where ``Field(ge=, le=)`` would bury them in a branch), and pydantic does not
    enforce them: the tool checks them itself, so a value out of range gets the tool's own
    short error naming the range, never a validator dump.
    """
    extra: dict[str, Any] = {}
    if minimum is not None:
        extra["minimum"] = minimum
    if maximum is not None:
        extra["maximum"] = maximum
    if max_items is not None:
        extra["maxItems"] = max_items
    return Field(description=description, json_schema_extra=extra)


class OutputModel(BaseModel):
    """Base of tool results that leave unset (None) fields out instead of sending null.

    Smaller results for the model to read, and a smaller, still exact output schema.
    """

    model_config = ConfigDict(defer_build=True)

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = dict(defs.get(ref.removeprefix("#/$defs/"), {}))
        target.update({k: v for k, v in node.items() if k != "$ref"})
        return _inline(target, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            # Property names are data, not keywords: a property called "title" stays.
            out[key] = {name: _inline(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _inline(value, defs)
    return out


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "null" and len(node) == 1


def _clean(node: Any, *, keep_null: bool, output: bool = False) -> Any:
    if isinstance(node, list):
        return [_clean(item, keep_null=keep_null, output=output) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or (output and key == "description"):
            continue
        if key == "default" and (output or value in (None, False, 0, "")):
            # Inputs keep only defaults worth reading: an absent option is off anyway.
            continue
        if key == "additionalProperties" and (value is True or (value is False and not output)):
            # Inputs: unknown fields are refused by the argument model either way.
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _clean(sub, keep_null=keep_null, output=output) for name, sub in value.items()}
        else:
            out[key] = _clean(value, keep_null=keep_null, output=output)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and any(_is_null(o) for o in options):
        other = next(o for o in options if not _is_null(o))
        rest = {k: v for k, v in out.items() if k != "anyOf"}
        if not keep_null:
            return {**other, **rest}
        kind = other.get("type") if isinstance(other, dict) else None
        if isinstance(kind, str):
            return {**other, **rest, "type": [kind, "null"]}
    return out


def compact_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The advertised input schema: an object at the top, no ``$ref``, no null branches."""
    cleaned = _clean(_inline(schema, schema.get("$defs", {})), keep_null=False)
    cleaned["type"] = "object"
    cleaned.setdefault("properties", {})
    return dict(cleaned)


def _shallow(node: Any) -> Any:
    """A nested object schema reduced to its type; an array keeps (reduced) items, which providers require."""
    if isinstance(node, dict) and node.get("type") == "object":
        return {"type": "object"}
    if isinstance(node, dict) and node.get("type") == "array":
        items = node.get("items")
        return {"type": "array", "items": _shallow(items) if isinstance(items, dict) else {}}
    return node


def compact_output_schema(schema: dict[str, Any], *, brief: bool = False) -> dict[str, Any]:
    """The advertised output schema: still exact, just smaller.

    ``brief`` (an :class:`OutputModel`): results never carry null fields, so the null
    branches go; nested objects are described by their type only, arrays by their items'
    type (model providers refuse an array without ``items``); and the ``required`` list
    goes - the top-level fields are what a client needs, and every byte here is sent on
    every turn.
    """
    inlined = _inline(schema, schema.get("$defs", {}))
    out = dict(_clean(inlined, keep_null=not brief, output=True))
    if brief and isinstance(out.get("properties"), dict):
        out["properties"] = {name: _shallow(sub) for name, sub in out["properties"].items()}
        out.pop("required", None)
    return out


def compact_schemas(
    parameters: dict[str, Any], output_schema: dict[str, Any] | None, output_model: Any
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A tool's advertised input and output schemas, from the ones the SDK generated."""
    if output_schema is not None:
        brief = isinstance(output_model, type) and issubclass(output_model, OutputModel)
        output_schema = compact_output_schema(output_schema, brief=brief)
    return compact_input_schema(parameters), output_schema


def compact_tool_schemas(catalog: Catalog) -> None:
    """Rewrite every catalogued tool's advertised schemas in place, before the server is built.

    Argument and result validation use the pydantic models, not these schemas, so this
    changes only what clients and models read. A tool built from the precomputed schemas
    has them compacted already (``pipeline/precomputed.py`` keeps them so).
    """
    for tool in catalog.tools:
        if from_cache(tool):
            continue
        meta = tool.fn_metadata
        tool.parameters, output_schema = compact_schemas(
            tool.parameters, meta.output_schema, meta.output_model
        )
        if output_schema is not None:
            meta.output_schema = output_schema
            # ``Tool.output_schema`` is a cached property over the metadata.
            tool.__dict__.pop("output_schema", None)


def as_tool_result(model: BaseModel, extra: Sequence[ContentBlock] = ()) -> CallToolResult:
    """``model`` as a tool result: compact JSON text plus the same object, structured.

    The SDK's own rendering indents the JSON, which costs the model context for nothing.
    """
    return CallToolResult(
        content=[TextContent(type="text", text=model.model_dump_json()), *extra],
        structured_content=model.model_dump(mode="json"),
    )
