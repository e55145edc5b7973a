"""Every tool schema passes the model providers' own code, offline, plus our portable subset.

A client hands our ``tools/list`` to a model provider; one schema the provider rejects
can cost the client every tool of every server. So each tool's schemas go through

* Google's ``google-genai`` SDK: ``types.Schema`` (the OpenAPI subset of Gemini function
  declarations, which refuses unknown keys such as ``$ref`` and ``$schema`` and type
  lists) inside a ``types.FunctionDeclaration``, for ``parameters`` and ``response``;
* OpenAI's ``openai`` SDK: the chat-completions and responses function-tool parameter
  types, the SDK's own conversion to a strict schema (which must still be a valid JSON
  Schema), and the documented function-name rule;
* our portable subset, which also covers what the SDKs let through but some providers
  or clients refuse: no ``$ref``/``$defs``/``$schema``, no type lists, ``items`` on every
  array, ``properties`` only on objects, no top-level combinator, and on inputs no
  ``additionalProperties`` (unknown arguments are refused at run time instead).

The unit tests at the end feed deliberately bad schemas through the same checks.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import jsonschema
import pytest
from google.genai import types as gemini
from mcp import Client
from openai.lib._pydantic import _ensure_strict_json_schema
from openai.types.chat import ChatCompletionFunctionToolParam
from openai.types.responses import FunctionToolParam
from pydantic import TypeAdapter

from tinyfish_mcp.server import build_server
from tinyfish_mcp.settings import TOOLSETS, Settings

_OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # the rule FunctionDefinition.name documents
_CHAT_TOOL: TypeAdapter[Any] = TypeAdapter(ChatCompletionFunctionToolParam)
_RESPONSES_TOOL: TypeAdapter[Any] = TypeAdapter(FunctionToolParam)
_COMBINATORS = ("anyOf", "oneOf", "allOf", "not")


def portable_problems(schema: dict[str, Any], *, is_input: bool) -> list[str]:
    """Where ``schema`` leaves the subset every provider accepts (empty when it does not)."""
    problems: list[str] = []
    if schema.get("type") != "object":
        problems.append("top level: type must be object")
    problems.extend(f"top level: {key}" for key in _COMBINATORS if key in schema)

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            problems.append(f"{path}: a schema must be an object, not {node!r}")
            return
        for key in ("$ref", "$defs", "definitions", "$schema"):
            if key in node:
                problems.append(f"{path}: {key}")
        if is_input and "additionalProperties" in node:
            problems.append(f"{path}: additionalProperties")
        kind = node.get("type")
        if isinstance(kind, list):
            problems.append(f"{path}: type list {kind}")
        if kind == "array" and "items" not in node:
            problems.append(f"{path}: array without items")
        if "properties" in node and kind != "object":
            problems.append(f"{path}: properties on type {kind}")
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{name}")
        if "items" in node:
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")
        for key in _COMBINATORS[:3]:
            for i, sub in enumerate(node.get(key) or []):
                walk(sub, f"{path}.{key}[{i}]")

    walk(schema, "$")
    return problems


def gemini_problems(
    name: str, description: str, inputs: dict[str, Any], outputs: dict[str, Any] | None
) -> list[str]:
    """What google-genai's function-declaration model refuses."""
    try:
        gemini.FunctionDeclaration(
            name=name,
            description=description,
            parameters=gemini.Schema.model_validate(inputs),
            response=gemini.Schema.model_validate(outputs) if outputs is not None else None,
        )
    except Exception as exc:  # the SDK raises ValidationError, and AttributeError on a type list
        return [f"google-genai: {type(exc).__name__}: {str(exc)[:300]}"]
    return []


def openai_problems(
    name: str, description: str, inputs: dict[str, Any], outputs: dict[str, Any] | None
) -> list[str]:
    """What the openai SDK's function-tool types and strict-schema conversion refuse."""
    problems: list[str] = []
    if not _OPENAI_NAME.match(name):
        problems.append(f"openai: function name {name!r} breaks ^[a-zA-Z0-9_-]{{1,64}}$")
    try:
        function = {"name": name, "description": description, "parameters": inputs, "strict": False}
        _CHAT_TOOL.validate_python({"type": "function", "function": function})
        _RESPONSES_TOOL.validate_python({"type": "function", **function, "output_schema": outputs})
        for schema in (inputs, outputs):
            if schema is None:
                continue
            jsonschema.Draft202012Validator.check_schema(schema)
            strict = copy.deepcopy(schema)
            jsonschema.Draft202012Validator.check_schema(
                _ensure_strict_json_schema(strict, path=(), root=strict)
            )
    except Exception as exc:
        problems.append(f"openai: {type(exc).__name__}: {str(exc)[:300]}")
    return problems


def all_problems(
    name: str, description: str, inputs: dict[str, Any], outputs: dict[str, Any] | None
) -> list[str]:
    problems = [f"input {p}" for p in portable_problems(inputs, is_input=True)]
    if outputs is not None:
        problems += [f"output {p}" for p in portable_problems(outputs, is_input=False)]
    return (
        problems
        + gemini_problems(name, description, inputs, outputs)
        + openai_problems(name, description, inputs, outputs)
    )


async def test_every_tool_schema_passes_gemini_openai_and_the_portable_subset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("TINYFISH_"):
            monkeypatch.delenv(name)
    async with Client(build_server(Settings(mcp_toolsets=TOOLSETS))) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) >= 15
    for tool in tools:
        problems = all_problems(tool.name, tool.description or "", tool.input_schema, tool.output_schema)
        assert not problems, f"{tool.name}: {problems}"


GOOD: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


@pytest.mark.parametrize(
    ("label", "schema", "expected"),
    [
        ("type list", {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}, "google-genai"),
        (
            "$ref",
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/A"}},
                "$defs": {"A": {"type": "string"}},
            },
            "google-genai",
        ),
        ("$schema", {**GOOD, "$schema": "https://json-schema.org/draft/2020-12/schema"}, "google-genai"),
        ("boolean schema", {"type": "object", "properties": {"a": True}}, "openai"),
        ("not a JSON Schema", {"type": "object", "properties": {"a": {"type": "text"}}}, "openai"),
        (
            "array without items",
            {"type": "object", "properties": {"a": {"type": "array"}}},
            "array without items",
        ),
        (
            "properties on a string",
            {"type": "object", "properties": {"a": {"type": "string", "properties": {}}}},
            "properties on type string",
        ),
        ("top-level anyOf", {"anyOf": [GOOD, {"type": "string"}]}, "top level: anyOf"),
        ("additionalProperties", {**GOOD, "additionalProperties": False}, "additionalProperties"),
    ],
)
def test_a_schema_a_provider_rejects_fails_the_check(
    label: str, schema: dict[str, Any], expected: str
) -> None:
    problems = all_problems("some_tool", "A tool.", schema, None)
    assert any(expected in problem for problem in problems), (label, problems)
    assert not all_problems("some_tool", "A tool.", GOOD, GOOD)


def test_a_bad_output_schema_or_name_fails_the_check() -> None:
    bad_output = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}
    assert any("output $.a: type list" in p for p in all_problems("some_tool", "A tool.", GOOD, bad_output))
    assert any("function name" in p for p in all_problems("some tool!", "A tool.", GOOD, None))
