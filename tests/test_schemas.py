"""The tool surface as clients see it: schemas every client accepts, the size budgets, a snapshot.

Some clients silently drop every tool of a server whose input schema they cannot
digest (a top-level ``anyOf``, a ``$schema`` key), strict checkers (the MCP Inspector's
``--strict``) flag output properties without a type, and ``tools/list`` is sent to the
model on every turn. So every tool is checked, the whole list and each tool are measured
(the figures are printed: ``pytest -s``), and a
snapshot of all schemas (``tests/snapshots/tools.json``) makes any change to the tool
surface a reviewed change: rerun with ``TINYFISH_UPDATE_SNAPSHOTS=1`` to accept one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import ListToolsResult, Tool

from tinyfish_mcp.server import build_server
from tinyfish_mcp.settings import TOOLSETS, Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"
BUDGET_BYTES = 20_000  # the whole tools/list of the default toolsets, compact JSON
TOOL_BUDGET_BYTES = 3_000  # any one tool
UPDATE_ENV = "TINYFISH_UPDATE_SNAPSHOTS"
EXPECTED_TOOLS = {
    "run_web_automation",
    "run_web_automation_async",
    "batch_create",
    "wait_for_run",
    "get_run",
    "get_steps",
    "list_runs",
    "cancel_run",
    "batch_status",
    "batch_cancel",
    "fetch_content",
    "search",
    "create_browser_session",
    "list_browser_sessions",
    "close_browser_session",
    "list_vault_items",
    "get_usage",
}


def _settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Default settings with every toolset, whatever TINYFISH_* the developer has set."""
    for name in list(os.environ):
        if name.startswith("TINYFISH_"):
            monkeypatch.delenv(name)
    return Settings(mcp_toolsets=TOOLSETS)


async def _list(monkeypatch: pytest.MonkeyPatch, mode: str = "auto") -> ListToolsResult:
    async with Client(build_server(_settings(monkeypatch)), mode=mode) as client:
        return await client.list_tools()


def _wire(result: ListToolsResult) -> str:
    """The list result as JSON on the wire (aliases, no nulls, no whitespace)."""
    return result.model_dump_json(by_alias=True, exclude_none=True)


def _keys(node: Any) -> set[str]:
    """Every key used anywhere in a JSON schema (property names included, which is harmless)."""
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def _entry(tool: Tool) -> dict[str, Any]:
    data = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    return {key: data.get(key) for key in ("description", "inputSchema", "outputSchema", "annotations")}


async def test_every_toolset_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {tool.name for tool in (await _list(monkeypatch)).tools}
    assert names >= EXPECTED_TOOLS


async def test_every_tool_schema_is_accepted_by_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for tool in (await _list(monkeypatch)).tools:
        schema = tool.input_schema
        assert schema.get("type") == "object", tool.name
        assert not {"anyOf", "oneOf", "allOf", "not"} & set(schema), f"{tool.name}: top-level combinator"
        assert "$schema" not in _keys(schema), f"{tool.name}: $schema in inputSchema"
        assert "$ref" not in _keys(schema), f"{tool.name}: $ref in inputSchema"
        assert isinstance(schema.get("properties"), dict), tool.name
        if tool.output_schema is not None:
            assert tool.output_schema.get("type") == "object", tool.name
            assert not {"anyOf", "oneOf", "allOf", "not"} & set(tool.output_schema), tool.name
            assert "$schema" not in _keys(tool.output_schema), tool.name


def _untyped(node: Any, path: str) -> list[str]:
    """Paths of the properties (at any depth, array items included) that declare no type."""
    found: list[str] = []
    if not isinstance(node, dict):
        return found
    for name, sub in (node.get("properties") or {}).items():
        # A type list is not portable (tests/test_providers.py): several types are typed anyOf branches.
        branches = sub.get("anyOf") if isinstance(sub, dict) else None
        typed_branches = isinstance(branches, list) and all("type" in b for b in branches)
        if not isinstance(sub, dict) or ("type" not in sub and not typed_branches):
            found.append(f"{path}.{name}")
        found += _untyped(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _untyped(node["items"], f"{path}[]")
    return found


async def test_every_output_property_is_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    untyped = [
        where
        for tool in (await _list(monkeypatch)).tools
        if tool.output_schema is not None
        for where in _untyped(tool.output_schema, tool.name)
    ]
    assert not untyped, f"output properties without a type: {untyped}"


async def test_every_tool_is_described_and_annotated(monkeypatch: pytest.MonkeyPatch) -> None:
    for tool in (await _list(monkeypatch)).tools:
        assert tool.description and len(tool.description) >= 40, f"{tool.name}: no real description"
        assert tool.description == tool.description.strip() and "\n    " not in tool.description
        hints = tool.annotations
        assert hints is not None, f"{tool.name}: no annotations"
        assert hints.read_only_hint is not None and hints.open_world_hint is not None, tool.name
        if not hints.read_only_hint:
            assert hints.destructive_hint is not None and hints.idempotent_hint is not None, tool.name
        assert tool.output_schema is not None, f"{tool.name}: no structured output"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_list_fits_the_budget(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    for name in list(os.environ):
        if name.startswith("TINYFISH_"):
            monkeypatch.delenv(name)
    async with Client(build_server(Settings()), mode=mode) as client:  # the default toolsets
        listed = await client.list_tools()
    # What reaches the model: a tool's _meta (the live-view app's ui:// binding) is for the host.
    result = listed.model_copy(
        update={"tools": [tool.model_copy(update={"meta": None}) for tool in listed.tools]}
    )
    assert any(tool.meta for tool in listed.tools)
    size = len(_wire(result).encode())
    per_tool = {
        tool.name: len(tool.model_dump_json(by_alias=True, exclude_none=True).encode())
        for tool in result.tools
    }
    biggest = sorted(per_tool.items(), key=lambda item: -item[1])
    with capsys.disabled():
        print(
            f"\ntools/list ({mode}): {size} bytes for {len(per_tool)} tools (budget {BUDGET_BYTES}); "
            f"largest: {', '.join(f'{name} {n}' for name, n in biggest[:4])} (budget {TOOL_BUDGET_BYTES})"
        )
    assert size <= BUDGET_BYTES, f"tools/list is {size} bytes (budget {BUDGET_BYTES}); biggest: {biggest[:5]}"
    over = [(name, n) for name, n in biggest if n > TOOL_BUDGET_BYTES]
    assert not over, f"tools over {TOOL_BUDGET_BYTES} bytes: {over}"


async def test_tool_schemas_match_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    update = os.environ.get(UPDATE_ENV) == "1"  # read before _settings clears TINYFISH_*
    tools = (await _list(monkeypatch)).tools
    current = {tool.name: _entry(tool) for tool in sorted(tools, key=lambda t: t.name)}
    text = json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if update:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
    recorded = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    changed = sorted(name for name in set(recorded) | set(current) if recorded.get(name) != current.get(name))
    assert not changed, (
        f"The tool surface changed for: {', '.join(changed)}. If that is intended, review the diff "
        f"and accept it with {UPDATE_ENV}=1 .venv/bin/python -m pytest tests/test_schemas.py "
        "(it rewrites tests/snapshots/tools.json; commit that file with the change)."
    )


def test_the_precomputed_schemas_are_what_the_sdk_generates_now() -> None:
    """The start-up loads the schemas from tinyfish_mcp/pipeline/schemas.json: it must never go stale.

    A signature change is also caught at run time (the entry's fingerprint no longer matches),
    but an edit inside an input or result model is caught only here.
    """
    from tinyfish_mcp.pipeline.precomputed import CACHE_FILE
    from tinyfish_mcp.schemas_cache import generate, render

    fresh = render(generate())
    if os.environ.get(UPDATE_ENV) == "1":
        CACHE_FILE.write_text(fresh, encoding="utf-8")
    assert CACHE_FILE.read_text(encoding="utf-8") == fresh, (
        f"{CACHE_FILE.name} is stale: regenerate it with python -m tinyfish_mcp.schemas_cache --write "
        f"(or {UPDATE_ENV}=1 .venv/bin/python -m pytest tests/test_schemas.py) and commit it."
    )
