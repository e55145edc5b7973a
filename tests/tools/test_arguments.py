"""The argument layer, through a real MCP client: refusals are by name, short, exact and safe.

Every refused call must leave the emulator's request log empty: nothing is sent, so
nothing is billed. The server is the real one (in-process), against the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _mcp import memory_server, result_text
from mcp import Client
from mcp.shared.exceptions import MCPError

from tinyfish_mcp.pipeline.arguments import MAX_TEXT

SHOP = "https://scrapeme.live/shop"


def _misspelled(name: str) -> str:
    """A plausible typo: the last letter doubled ("url" -> "urll")."""
    return name + name[-1]


async def _tools(client: Client) -> dict[str, dict[str, Any]]:
    return {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}


async def test_every_tool_refuses_a_misspelled_argument_by_name(emulator: Any) -> None:
    async with memory_server(emulator) as client:
        tools = await _tools(client)
        assert len(tools) >= 15
        for name, schema in tools.items():
            properties = list(schema["properties"])
            if properties:
                wrong = _misspelled(properties[-1])
                arguments = {wrong: "x"}
            else:
                wrong = "limt"
                arguments = {wrong: 1}
            result = await client.call_tool(name, arguments)
            text = result_text(result)
            assert result.is_error, name
            assert f"`{wrong}` is not an argument of this tool" in text, text
            if properties:
                assert f"(did you mean `{properties[-1]}`?)" in text, text
                assert "This tool takes: " + properties[0] in text, text
            else:
                assert "This tool takes: no arguments" in text, text
            assert "pydantic" not in text and "validation error" not in text, text
    assert emulator.requests() == []


async def test_tinyfish_plugin_fetch_example_is_served(emulator: Any) -> None:
    """TinyFish's plugin example: every argument is known, so it is served, scoped to the selectors."""
    arguments = {"urls": [SHOP], "format": "markdown", "include_selectors": ["main", "article"]}
    async with memory_server(emulator) as client:
        result = await client.call_tool("fetch_content", arguments)
    assert not result.is_error, result_text(result)
    sent = [r for r in emulator.requests() if r["method"] == "POST"]
    assert sent and sent[0]["body"]["include_selectors"] == ["main", "article"]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            "wait_for_run",
            {"run_id": "r", "max_wait_seconds": 9999},
            "`max_wait_seconds` must be between 1 and 600; got 9999. Fix these and call again.",
        ),
        ("wait_for_run", {}, "`run_id` is required and missing."),
        ("get_run", {"id": "r", "max_chars": "lots"}, '`max_chars` must be an integer; got "lots"'),
        ("wait_for_run", {"run_id": 5}, "`run_id` must be a string; got 5"),
        ("search", {"query": "q", "location": ["US"]}, "`location` must be a string"),
        ("fetch_content", {"urls": [SHOP], "links": "maybe"}, '`links` must be true or false; got "maybe"'),
        (
            "list_runs",
            {"status": "DONE"},
            '`status` must be one of: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED; got "DONE"',
        ),
        ("run_web_automation", {"url": SHOP, "goal": "x" * (MAX_TEXT + 1)}, "`goal` is too long: 10,001"),
        (
            "run_web_automation",
            {"url": SHOP, "goal": "x", "output_schema": {"a": json.loads("[" * 60 + "]" * 60)}},
            "`output_schema` is nested too deeply",
        ),
        ("fetch_content", {"urls": ["x" * 20_000]}, "`urls` has an item of 20,000 characters"),
        ("run_web_automation", {"url": "not a url", "goal": "x"}, "is not a valid page address"),
        ("create_browser_session", {"url": "https://exa mple.com"}, "is not a valid page address"),
    ],
)
async def test_bad_arguments_get_one_line_each_in_our_words(
    emulator: Any, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with memory_server(emulator) as client:
        result = await client.call_tool(tool, arguments)
    text = result_text(result)
    assert result.is_error
    assert expected in text, text
    assert "errors.pydantic.dev" not in text and "validation error for" not in text, text
    assert "Invalid the" not in text
    assert len(text) < 600
    assert emulator.requests() == []


async def test_several_problems_are_listed_one_per_line(emulator: Any) -> None:
    async with memory_server(emulator) as client:
        result = await client.call_tool("list_runs", {"status": "DONE", "limit": 0, "sort": "asc"})
    lines = result_text(result).splitlines()
    assert lines[0].endswith("Invalid arguments:")
    assert set(lines[1:4]) == {
        "- `sort` is not an argument of this tool (did you mean `sort_direction`?)",
        '- `status` must be one of: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED; got "DONE"',
        "- `limit` must be between 1 and 100; got 0",
    }
    assert lines[4].startswith("This tool takes: ") and lines[4].endswith("Fix these and call again.")


async def test_huge_and_hostile_values_are_never_echoed(emulator: Any) -> None:
    hostile = "\u202egnp.exe\x1b[31m" + "A" * 1_000_000
    async with memory_server(emulator) as client:
        for tool, arguments in [
            ("search", {"query": hostile}),
            ("wait_for_run", {"run_id": hostile}),
            ("run_web_automation", {"url": hostile, "goal": "x"}),
            ("get_run", {hostile: 1}),
            ("get_run", {"id": hostile}),
            ("list_runs", {"status": hostile}),
        ]:
            result = await client.call_tool(tool, arguments)
            text = result_text(result)
            assert result.is_error, tool
            assert len(text) < 600, (tool, len(text))
            assert "\u202e" not in text and "\x1b" not in text, text
    assert emulator.requests() == []


async def test_a_single_url_is_taken_as_a_list(emulator: Any) -> None:
    async with memory_server(emulator) as client:
        result = await client.call_tool("fetch_content", {"urls": SHOP})
    assert not result.is_error, result_text(result)
    sent = [r for r in emulator.requests() if r["method"] == "POST"]
    assert sent and sent[0]["body"]["urls"] == [SHOP]


async def test_the_goal_prompt_checks_its_arguments(emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    async with memory_server(emulator) as client:
        for arguments, expected in [
            ({}, "`task` is required and missing"),
            ({"task": "t", "urll": "x"}, "`urll` is not an argument of this prompt (did you mean `url`?)"),
            ({"task": "t" * (MAX_TEXT + 1)}, "`task` is too long"),
        ]:
            with pytest.raises(MCPError) as caught:
                await client.get_prompt("write_web_goal", arguments)
            assert caught.value.error.code == -32602
            assert expected in caught.value.error.message
            assert "takes: task (required), url" in caught.value.error.message
        prompt = await client.get_prompt("write_web_goal", {"task": "find prices", "url": SHOP})
    assert "find prices" in str(prompt.messages[0].content)
    assert "Traceback" not in caplog.text and "Internal server error" not in caplog.text


async def test_an_unknown_tool_or_prompt_is_refused_by_name(
    emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with memory_server(emulator) as client:
        result = await client.call_tool("fetch_contnet", {"urls": [SHOP]})
        assert result.is_error
        text = result_text(result)
        assert text.startswith(
            "Unknown tool `fetch_contnet` (did you mean `fetch_content`?). This server's tools: "
        )
        huge = await client.call_tool("x" * 100_000, {})
        assert huge.is_error and len(result_text(huge)) < 1_500
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("write_goal", {"task": "t"})
    assert caught.value.error.code == -32602
    assert "Unknown prompt `write_goal` (did you mean `write_web_goal`?)" in caught.value.error.message
    assert "Traceback" not in caplog.text
    assert emulator.requests() == []
