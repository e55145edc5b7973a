"""Every call written for TinyFish's hosted MCP server works on ours.

The hosted surface is a fixture we keep (``tests/fixtures/hosted_tools.json``: tool
names, argument names, required flags, from TinyFish's plugins). Ours may add tools
and optional arguments, never rename theirs or require more. The table of hosted tools in
``docs/tools.md`` names each of them and each argument.
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
from tinyfish_mcp.settings import TOOLSETS, Settings

ROOT = Path(__file__).resolve().parents[1]
HOSTED: dict[str, Any] = json.loads((ROOT / "tests" / "fixtures" / "hosted_tools.json").read_text())["tools"]


@pytest.fixture
async def our_tools(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    for name in list(os.environ):
        if name.startswith("TINYFISH_"):
            monkeypatch.delenv(name)
    async with Client(build_server(Settings(mcp_toolsets=TOOLSETS))) as client:
        listed = await client.list_tools()
    return {tool.name: tool.input_schema for tool in listed.tools}


def _problems(name: str, hosted: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    wanted: dict[str, Any] = hosted["arguments"]
    problems = [f"{name}: no argument {arg!r}" for arg in wanted if arg not in properties]
    problems += [
        f"{name}: we require {arg!r}, the hosted tool does not"
        for arg in schema.get("required", [])
        if not wanted.get(arg, {}).get("required", False)
    ]
    for arg, spec in wanted.items():
        inner = properties.get(arg, {}).get("properties")
        for field in spec.get("properties", []):
            if arg in properties and (inner is None or field not in inner):
                problems.append(f"{name}: {arg} has no field {field!r}")
    return problems


async def test_every_hosted_call_is_accepted(our_tools: dict[str, dict[str, Any]]) -> None:
    missing = sorted(set(HOSTED) - set(our_tools))
    problems = [
        p
        for name in sorted(set(HOSTED) & set(our_tools))
        for p in _problems(name, HOSTED[name], our_tools[name])
    ]
    assert not missing and not problems, f"missing tools: {missing}; {problems}"


def test_the_tools_guide_table_names_every_hosted_tool_and_argument() -> None:
    guide = (ROOT / "docs" / "tools.md").read_text()
    section = guide.split("\n## Hosted tool names\n", 1)[1].split("\n#", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)`.*$", section, re.MULTILINE)}
    for name, hosted in HOSTED.items():
        assert name in rows, f"docs/tools.md hosted table has no row for {name}"
        hosted_cell = rows[name].split("|")[1]
        for arg in hosted["arguments"]:
            assert re.search(rf"\b{arg}\b", hosted_cell), f"docs/tools.md row of {name} does not name {arg}"
