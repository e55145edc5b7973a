"""Property: whatever arguments a tool gets, the answer is a bounded result or tool error, never a crash.

Arguments are generated from each tool's own advertised ``inputSchema``: valid values,
wrong types, out-of-range numbers, huge and deeply nested values, hostile strings
(controls, bidi overrides, NULs) and unknown argument names. Every call goes through a
real MCP client to the real server (in-process, against the emulator); a few fixed
hostile calls also go through the stdio subprocess. After each example the server must
still answer, and the log must hold no traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from _mcp import memory_server, result_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp_types import CallToolResult

MAX_ERROR_CHARS = 1_500
MAX_RESULT_CHARS = 60_000  # mcp_max_result_chars (20 000) plus the JSON framing of a result
SAMPLES = ["https://scrapeme.live/shop", "example.com", "not a url", "run_1", "", " "]
HOSTILE_CHARS = "\x00\x07\x1b\u202e\u2066\u200b\ufeff\n\r\t'\"\\<>{}[]%$`é漢😀"


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": [value]}
    return value


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_HOSTILE = st.one_of(
    st.just("A" * 1_000_000),
    st.just("\u202e" * 50_000),
    st.just(_nested(120)),
    st.just(list(range(20_000))),
    st.text(alphabet=HOSTILE_CHARS, max_size=300),
    st.integers(min_value=-(2**70), max_value=2**70),
    _JSON,
)


def _valid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema allows (the server may still refuse them, e.g. an unknown run id)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.sampled_from(SAMPLES) | _TEXT
    if kind == "integer":
        return st.integers(schema.get("minimum", -1000), schema.get("maximum", 1000))
    if kind == "number":
        return st.floats(schema.get("minimum", -1000), schema.get("maximum", 1000), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = _valid(schema.get("items") or {})
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 3), 3))
    if kind == "object" and schema.get("properties"):
        return _arguments(schema, allow_unknown=False)
    return _JSON


def _arguments(schema: dict[str, Any], *, allow_unknown: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties") or {}
    values = {name: _valid(sub) | _valid(sub) | _HOSTILE for name, sub in properties.items()}
    required = {name: values[name] for name in schema.get("required", [])}
    optional = {name: value for name, value in values.items() if name not in required}
    known = st.fixed_dictionaries(required, optional=optional) | st.fixed_dictionaries({}, optional=values)
    if not allow_unknown:
        return known
    unknown = st.dictionaries(_TEXT.filter(lambda k: k not in properties), _JSON | _HOSTILE, max_size=2)
    return st.tuples(known, unknown | st.just({})).map(lambda pair: {**pair[0], **pair[1]})


def _check(tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
    text = result_text(result)
    where = f"{tool}({json.dumps(arguments, default=str)[:300]})"
    assert "Traceback" not in text and "errors.pydantic.dev" not in text, where + text[:500]
    assert "validation error for" not in text, where + text[:500]
    if result.is_error:
        assert 0 < len(text) <= MAX_ERROR_CHARS, where + text[:500]
        assert "\u202e" not in text and "\x00" not in text, where
    else:
        size = len(result.model_dump_json())
        assert size <= MAX_RESULT_CHARS, (where, size)


async def _survives(client: Client) -> None:
    assert (await client.list_tools()).tools


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_tool_answers_any_arguments_with_a_bounded_result(
    emulator: Any, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    caplog.set_level(logging.INFO)
    async with memory_server(emulator, mcp_call_window=2.0) as client:
        tools = (await client.list_tools()).tools
        for tool in tools:
            arguments = data.draw(_arguments(tool.input_schema), label=tool.name)
            result = await client.call_tool(tool.name, arguments)
            _check(tool.name, arguments, result)
        await _survives(client)
    crashes = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not crashes, [r.getMessage()[:300] for r in crashes]


HOSTILE_CALLS: list[dict[str, Any]] = [
    {"url": "A" * 1_000_000, "goal": "x"},
    {"run_id": _nested(40)},
    {"query": "\u202egnp.exe\x00" * 2000},
    {"urls": "\x1b[31m" * 10_000},
    {"max_wait_secs": 5, "unknown_" + "x" * 10_000: 1},
]


@pytest.mark.asyncio(loop_scope="module")  # the module's shared stdio server lives in that loop
async def test_hostile_calls_over_stdio_get_bounded_errors(mcp: Client) -> None:
    for tool in (await mcp.list_tools()).tools:
        for arguments in HOSTILE_CALLS:
            result = await mcp.call_tool(tool.name, arguments)
            assert result.is_error, (tool.name, list(arguments))
            _check(tool.name, arguments, result)
    await _survives(mcp)
