"""build_server: what every client sees on connect, toolsets, schemas, settings, import weight.

These use the in-process client (the same server and a real MCP client, no subprocess);
the stdio behaviour is covered in tests/tools and tests/test_cli.py.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import jsonschema
import pytest
from _mcp import ProgressLog, memory_server, result_json, settled_run

from tinyfish_mcp import __version__

AGENT_TOOLS = {"run_web_automation", "wait_for_run", "run_web_automation_async", "batch_create"}
RUNS_TOOLS = {"get_run", "get_steps", "list_runs", "cancel_run", "batch_status", "batch_cancel"}


async def test_server_identity_and_instructions() -> None:
    async with memory_server(None, api_key=None, mode="legacy") as client:
        assert client.server_info is not None
        assert client.server_info.name == "tinyfish" and client.server_info.version == __version__
        instructions = client.instructions or ""
        assert "wait_for_run" in instructions and "output_schema" in instructions


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_schema_is_acceptable_to_every_client(mode: str) -> None:
    async with memory_server(None, api_key=None, mode=mode) as client:
        tools = (await client.list_tools()).tools
    names = {tool.name for tool in tools}
    assert names >= AGENT_TOOLS | RUNS_TOOLS
    for tool in tools:
        schema = tool.input_schema
        assert schema["type"] == "object", tool.name
        assert not {"anyOf", "oneOf", "allOf", "$schema", "$ref", "$defs"} & set(schema), tool.name
        assert "$ref" not in json.dumps(schema) and "$schema" not in json.dumps(schema), tool.name
        jsonschema.Draft202012Validator.check_schema(schema)
        # OpenAI-compatible providers refuse function descriptions over 1024 characters.
        assert tool.description and len(tool.description) <= 1024, tool.name
        if tool.output_schema is not None:
            jsonschema.Draft202012Validator.check_schema(tool.output_schema)
            assert tool.output_schema["type"] == "object"


async def test_agent_and_runs_tools_are_annotated() -> None:
    async with memory_server(None, api_key=None) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    hints: dict[str, tuple[bool, bool, bool, bool]] = {}
    for name in AGENT_TOOLS | RUNS_TOOLS:
        ann = tools[name].annotations
        assert ann is not None, name
        values = (ann.read_only_hint, ann.destructive_hint, ann.idempotent_hint, ann.open_world_hint)
        assert None not in values, f"{name} must state all four hints"
        hints[name] = values  # type: ignore[assignment]
    assert hints["run_web_automation"] == (False, False, False, True)
    assert hints["batch_create"] == (False, False, False, True)
    assert (
        hints["get_run"]
        == hints["list_runs"]
        == hints["batch_status"]
        == hints["get_steps"]
        == (True, False, True, False)
    )
    assert hints["cancel_run"] == hints["batch_cancel"] == (False, True, True, False)


async def test_agent_and_runs_tools_fit_their_share_of_the_tools_list_budget() -> None:
    async with memory_server(None, api_key=None) as client:
        tools = (await client.list_tools()).tools
    ours = [t for t in tools if t.name in AGENT_TOOLS | RUNS_TOOLS]
    size = sum(len(t.model_dump_json(by_alias=True, exclude_none=True)) for t in ours)
    # The whole tools/list must stay under 20 KB; these ten tools may take 12.5 KB of it.
    assert size < 12_500, size


@pytest.mark.parametrize(
    ("toolsets", "tools", "prompts", "templates"),
    [
        (("agent",), AGENT_TOOLS, ["write_web_goal"], []),
        (("runs",), RUNS_TOOLS, [], ["tinyfish://runs/{run_id}"]),
        (("agent", "runs"), AGENT_TOOLS | RUNS_TOOLS, ["write_web_goal"], ["tinyfish://runs/{run_id}"]),
    ],
)
async def test_toolsets_choose_what_is_registered(
    toolsets: tuple[str, ...], tools: set[str], prompts: list[str], templates: list[str]
) -> None:
    async with memory_server(None, api_key=None, mcp_toolsets=toolsets) as client:
        assert {t.name for t in (await client.list_tools()).tools} == tools
        assert [p.name for p in (await client.list_prompts()).prompts] == prompts
        listed = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in listed] == templates


@pytest.mark.parametrize("cancel_on_disconnect", [True, False])
async def test_client_cancel_follows_the_setting(emulator: Any, cancel_on_disconnect: bool) -> None:
    async with memory_server(emulator, mcp_cancel_on_disconnect=cancel_on_disconnect) as client:
        log = ProgressLog()
        with anyio.move_on_after(0.6):
            await client.call_tool(
                "run_web_automation",
                {"url": "https://a.example/?tf_scenario=slow&tf_steps=12&tf_step_delay=0.1", "goal": "slow"},
                progress_callback=log,
            )
        run = await settled_run(emulator, log.run_id())
    if cancel_on_disconnect:
        assert run["status"] == "CANCELLED" and run["cancel_requested"] is True
    else:
        assert run["status"] == "COMPLETED" and run["cancel_requested"] is False


async def test_a_key_resolver_is_asked_per_call(emulator: Any) -> None:
    from mcp import Client

    from tinyfish_mcp.server import build_server
    from tinyfish_mcp.settings import Settings

    asked: list[str] = []

    async def resolve() -> str:
        asked.append("key")
        return str(emulator.other_key)

    server = build_server(Settings(base_url=emulator.base_url, api_key=None), resolve_key=resolve)
    async with Client(server) as client:
        started = result_json(
            await client.call_tool("run_web_automation_async", {"url": "https://a.example/", "goal": "x"})
        )
    assert asked == ["key"]
    assert emulator.run(started["run_id"])["owner_key_suffix"] == emulator.other_key[-4:]


async def test_instructions_name_only_the_enabled_tools(emulator: Any) -> None:
    async with memory_server(emulator, mcp_toolsets=("fetch", "search")) as client:
        text = client.instructions or ""
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert "fetch_content" in text and "search" in text
    assert "run_web_automation" not in text and "wait_for_run" not in text
    assert tools == {"fetch_content", "search"}
