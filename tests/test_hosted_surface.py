"""Every call written for TinyFish's hosted MCP server works on ours.

The hosted surface is a fixture we keep (``tests/fixtures/hosted_tools.json``): the union
of the hosted server's own tool definitions (its ``tools/list``, published in
``tinyfish-io/tinyfish-mcp-server`` ``docs/tools.md``) and what TinyFish's plugins record,
each tool and argument with its source. Ours may add tools and optional arguments, never
rename theirs or require more; an argument the hosted server marks required but gives a
default stays optional here. ``--toolsets hosted`` serves exactly the hosted tools (and
``wait_for_run``, which our RUNNING answers point to). The tools guide's table of hosted
tools names each of them and each argument.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client

from tinyfish_mcp.server import build_server
from tinyfish_mcp.settings import DEFAULT_TOOLSETS, TOOLSETS, Settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURE: dict[str, Any] = json.loads((ROOT / "tests" / "fixtures" / "hosted_tools.json").read_text())
HOSTED: dict[str, Any] = FIXTURE["tools"]
HOSTED_ONLY: list[str] = FIXTURE["hosted_tools"]
HOSTED_DOC = "tinyfish-io/tinyfish-mcp-server@2b95ede:docs/tools.md"


async def _tools(monkeypatch: pytest.MonkeyPatch, toolsets: Any) -> dict[str, dict[str, Any]]:
    for name in list(os.environ):
        if name.startswith("TINYFISH_"):
            monkeypatch.delenv(name)
    async with Client(build_server(Settings(mcp_toolsets=toolsets))) as client:
        listed = await client.list_tools()
    return {tool.name: tool.input_schema for tool in listed.tools}


@pytest.fixture
async def our_tools(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    return await _tools(monkeypatch, TOOLSETS)


def _problems(name: str, hosted: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    wanted: dict[str, Any] = hosted["arguments"]
    problems = [f"{name}: no argument {arg!r}" for arg in wanted if arg not in properties]
    problems += [
        f"{name}: we require {arg!r}, the hosted tool does not"
        for arg in schema.get("required", [])
        if not wanted.get(arg, {}).get("required", False)
    ]
    problems += [
        f"{name}: we require {arg!r}, which the hosted tool defaults to {spec['default']!r}"
        for arg, spec in wanted.items()
        if "default" in spec and arg in schema.get("required", [])
    ]
    for arg, spec in wanted.items():
        if arg not in properties or _open_object(properties[arg]):
            continue  # an object advertised by type alone is checked whole at call time (see the replay test)
        inner = _object_properties(properties[arg], schema)
        for field in spec.get("properties", []):
            if field not in inner:
                problems.append(f"{name}: {arg} has no field {field!r}")
    return problems


def _open_object(prop: dict[str, Any]) -> bool:
    """An object argument described by its type only (``{"type": "object"}``), fields unnamed."""
    return prop.get("type") == "object" and "properties" not in prop and "$ref" not in prop


def _object_properties(prop: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The fields of an object argument, through ``anyOf`` and local ``$ref``s."""
    found: dict[str, Any] = {}
    stack = [prop]
    while stack:
        node = stack.pop()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            stack.append(schema.get("$defs", {}).get(ref.split("/")[-1], {}))
        found.update(node.get("properties", {}))
        stack.extend(node.get("anyOf", []))
    return found


def test_the_fixture_records_a_source_for_every_tool_and_argument() -> None:
    assert len(HOSTED_ONLY) == 28 and set(HOSTED_ONLY) <= set(HOSTED)
    for name, tool in HOSTED.items():
        assert tool["sources"], name
        assert (HOSTED_DOC in tool["sources"]) == (name in HOSTED_ONLY), name
        for arg, spec in tool["arguments"].items():
            assert spec["sources"], f"{name}.{arg}"
            assert set(spec["sources"]) <= set(tool["sources"]), f"{name}.{arg}"


async def test_every_hosted_call_is_accepted(our_tools: dict[str, dict[str, Any]]) -> None:
    missing = sorted(set(HOSTED) - set(our_tools))
    problems = [
        p
        for name in sorted(set(HOSTED) & set(our_tools))
        for p in _problems(name, HOSTED[name], our_tools[name])
    ]
    assert not missing and not problems, f"missing tools: {missing}; {problems}"


async def test_the_hosted_toolset_serves_exactly_the_hosted_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    tools = await _tools(monkeypatch, "hosted")
    assert set(tools) == set(HOSTED_ONLY) | {"wait_for_run"}
    problems = [p for name in HOSTED_ONLY for p in _problems(name, HOSTED[name], tools[name])]
    assert not problems, problems


def test_the_tools_guide_table_names_every_hosted_tool_and_argument() -> None:
    guide = (ROOT / "docs" / "tools.md").read_text()
    section = guide.split("\n## Hosted tool names\n", 1)[1].split("\n#", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)`.*$", section, re.MULTILINE)}
    for name, hosted in HOSTED.items():
        assert name in rows, f"docs/tools.md hosted table has no row for {name}"
        hosted_cell = rows[name].split("|")[1]
        for arg in hosted["arguments"]:
            assert re.search(rf"\b{arg}\b", hosted_cell), f"docs/tools.md row of {name} does not name {arg}"


def _named_tools(text: str, names: set[str]) -> set[str]:
    return {name for name in names if re.search(rf"\b{re.escape(name)}\b", text)}


@pytest.mark.parametrize("toolsets", ["hosted", "agent,runs", ",".join(DEFAULT_TOOLSETS), "wallet"])
async def test_no_description_points_at_a_tool_the_server_does_not_serve(
    monkeypatch: pytest.MonkeyPatch, toolsets: str
) -> None:
    """A tool's description and its arguments' descriptions name only tools that are served."""
    for name in list(os.environ):
        if name.startswith("TINYFISH_"):
            monkeypatch.delenv(name)
    async with Client(build_server(Settings(mcp_toolsets=TOOLSETS))) as client:
        every = {tool.name for tool in (await client.list_tools()).tools}
    async with Client(build_server(Settings(mcp_toolsets=toolsets))) as client:
        served = (await client.list_tools()).tools
    names = {tool.name for tool in served}
    # Words that are also the names of tools are said in prose too ("search the web").
    every -= {"search"}
    pointed = {
        f"{tool.name} -> {other}"
        for tool in served
        for other in _named_tools(f"{tool.description} {json.dumps(tool.input_schema)}", every - names)
    }
    assert not pointed, sorted(pointed)
