"""Failures of the agent tools, over stdio: bad input, every upstream error, bad or missing keys.

Inputs are checked before anything is sent (the emulator's request log stays empty),
and every error tells the model what to do next without ever showing the key.
"""

from __future__ import annotations

import tempfile
from typing import Any

import httpx
import pytest
from _mcp import result_json, result_text, stdio_server
from mcp import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOP = "https://shop.example.com/"


def _sent(emulator: Any, path: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"] == path]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"url": "ftp://files.example.com", "goal": "x"}, "url uses the ftp:// scheme"),
        ({"url": "mailto:x@example.com", "goal": "x"}, "is not a web page URL"),
        ({"url": SHOP, "goal": "   "}, "`goal` must not be blank"),
        (
            {"url": SHOP, "goal": "x", "webhook_url": "http://hook.example.com"},
            "`webhook_url` must be an https://",
        ),
        (
            {"url": SHOP, "goal": "x", "credential_item_ids": ["a"], "use_vault": False},
            "requires use_vault=true",
        ),
        ({"url": SHOP, "goal": "x", "browser_profile": "turbo"}, "browser_profile"),
        ({"url": SHOP, "goal": "x", "agent_config": {"max_steps": 0}}, "max_steps"),
        ({"url": SHOP, "goal": "x", "agent_config": {"max_steps": 501}}, "max_steps"),
        ({"url": SHOP, "goal": "x", "agent_config": {"max_duration_seconds": 0}}, "max_duration_seconds"),
        ({"url": SHOP, "goal": "x", "agent_config": {"cursor_style": "arrow"}}, "cursor_style"),
        ({"url": SHOP, "goal": "x", "agent_config": {"mode": "fast"}}, "mode"),
        ({"url": SHOP, "goal": "x", "capture_config": {"video": True}}, "video"),
        ({"url": SHOP, "goal": "x", "profile_id": "p", "use_profile": False}, "requires use_profile=true"),
        ({"url": SHOP, "goal": "x", "profile_id": "   "}, "profile_id"),
        ({"url": SHOP, "goal": "x", "session_id": ""}, "session_id"),
        ({"url": SHOP, "goal": "x", "max_wait_seconds": 601}, "max_wait_seconds"),
        ({"url": SHOP, "goal": "x", "proxy_config": {"country_code": "usa"}}, "country_code"),
        ({"url": SHOP}, "goal"),
    ],
)
async def test_bad_input_is_refused_before_any_upstream_call(
    mcp: Client, emulator: Any, arguments: dict[str, Any], expected: str
) -> None:
    result = await mcp.call_tool("run_web_automation", arguments)
    assert result.is_error
    assert expected in result_text(result)
    assert emulator.requests() == []


async def test_credentials_imply_the_vault(mcp: Client, emulator: Any) -> None:
    result_json(
        await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "x", "credential_item_ids": ["c1"]})
    )
    body = _sent(emulator, "/v1/automation/run-sse")[0]["body"]
    assert body["use_vault"] is True and body["credential_item_ids"] == ["c1"]


async def test_upstream_invalid_input_names_the_field(mcp: Client, emulator: Any) -> None:
    result = await mcp.call_tool("run_web_automation", {"url": f"{SHOP}?tf_scenario=bogus", "goal": "x"})
    text = result_text(result)
    assert result.is_error
    assert "INVALID_INPUT" in text and "url: unknown tf_scenario 'bogus'" in text
    assert "Correct the named fields" in text


async def test_server_error_on_start_is_not_resent_and_warns_of_a_possible_run(
    mcp: Client, emulator: Any
) -> None:
    emulator.fault("/v1/automation/run-sse", status=500)
    result = await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "x"})
    text = result_text(result)
    assert result.is_error and "HTTP 500" in text and "starting the run" in text
    assert "may have started the run" in text and "Do NOT start it again" in text
    assert "list_runs(goal='x', created_after=" in text
    assert len(_sent(emulator, "/v1/automation/run-sse")) == 1, "a run creation is never re-sent after a 5xx"


async def test_rate_limit_says_to_wait(mcp: Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-sse", status=429, count=10)
    result = await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "x"})
    text = result_text(result)
    assert result.is_error and "RATE_LIMIT_EXCEEDED" in text and "wait about 15-60 seconds" in text
    # A 429 is an explicit refusal, so the client may retry it (a few times) before giving up.
    assert len(_sent(emulator, "/v1/automation/run-sse")) == 4


async def test_stream_closed_before_start_finds_and_follows_the_run(mcp: Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-sse", drop_after=0)
    data = result_json(await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "x"}))
    assert data["status"] == "COMPLETED"
    assert len(_sent(emulator, "/v1/automation/run-sse")) == 1, "found, never started again"
    assert [r for r in emulator.requests() if r["path"] == "/v1/runs"], "looked the run up by listing"


async def test_malformed_event_is_skipped(mcp: Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-sse", malformed_after=2)
    data = result_json(await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "x"}))
    assert data["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("tool", "arg"),
    [("get_run", "id"), ("wait_for_run", "run_id"), ("cancel_run", "id"), ("get_steps", "runId")],
)
async def test_unknown_run_is_not_found(mcp: Client, emulator: Any, tool: str, arg: str) -> None:
    result = await mcp.call_tool(tool, {arg: "no-such-run"})
    text = result_text(result)
    assert result.is_error and "NOT_FOUND" in text and "list_runs" in text


async def test_another_users_run_is_not_found(mcp: Client, emulator: Any) -> None:
    created = httpx.post(
        f"{emulator.base_url}/v1/automation/run-async",
        headers={"X-API-Key": emulator.other_key},
        json={"url": SHOP, "goal": "theirs"},
    ).json()
    result = await mcp.call_tool("get_run", {"id": created["run_id"]})
    assert result.is_error and "NOT_FOUND" in result_text(result)


async def test_wait_for_a_failed_run_is_a_tool_error(mcp: Client, emulator: Any) -> None:
    started = result_json(
        await mcp.call_tool(
            "run_web_automation_async",
            {"url": f"{SHOP}?tf_scenario=failed&tf_error=SITE_BLOCKED", "goal": "x"},
        )
    )
    result = await mcp.call_tool("wait_for_run", {"run_id": started["run_id"]})
    text = result_text(result)
    assert (
        result.is_error and f"Run {started['run_id']} FAILED with SITE_BLOCKED" in text and "stealth" in text
    )


# --------------------------------------------------------------------------- keys (own processes)


async def test_invalid_key_says_to_check_it_and_never_shows_it(emulator: Any) -> None:
    key = "sk-not-a-real-key-123456"
    with tempfile.TemporaryFile(mode="w+") as stderr:
        async with stdio_server(emulator, api_key=key, stderr=stderr) as client:
            for tool, args in [("run_web_automation", {"url": SHOP, "goal": "x"}), ("list_runs", {})]:
                result = await client.call_tool(tool, args)
                text = result_text(result)
                assert result.is_error and "INVALID_API_KEY" in text and "TINYFISH_API_KEY" in text
                assert key not in text
        stderr.seek(0)
        log = stderr.read()
    # The server logged the failures, never the key.
    assert "INVALID_API_KEY" in log and key not in log


async def test_key_without_credit_says_to_add_credits(emulator: Any) -> None:
    async with stdio_server(emulator, api_key=emulator.no_credit_key) as client:
        result = await client.call_tool("run_web_automation", {"url": SHOP, "goal": "x"})
    text = result_text(result)
    assert result.is_error and "credits" in text.lower()
    assert emulator.no_credit_key not in text


async def test_no_key_lists_tools_and_each_call_says_how_to_set_it(emulator: Any) -> None:
    async with stdio_server(emulator, api_key=None) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"run_web_automation", "wait_for_run", "get_run", "list_runs", "batch_cancel"} <= names
        for tool, args in [
            ("run_web_automation", {"url": SHOP, "goal": "x"}),
            ("batch_create", {"runs": [{"url": SHOP, "goal": "x"}]}),
            ("get_run", {"id": "r"}),
            ("list_runs", {}),
        ]:
            result = await client.call_tool(tool, args)
            assert result.is_error and "Set the TINYFISH_API_KEY environment variable" in result_text(result)
    assert emulator.requests() == []


async def test_window_closing_before_the_run_is_confirmed_warns_of_a_possible_run(
    mcp: Client, emulator: Any
) -> None:
    emulator.fault("/v1/automation/run-sse", delay=3)
    result = await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "x", "max_wait_seconds": 1})
    text = result_text(result)
    assert result.is_error and "within the 1 s deadline of this call" in text
    assert "may have started the run" in text and "Do NOT start it again" in text


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"agent_config": {"max_steps": 0}}, "agent_config.max_steps"),
        ({"agent_config": {"cursor_style": "arrow"}}, "agent_config.cursor_style"),
        ({"proxy_config": {"country_code": "usa"}}, "proxy_config.country_code"),
        ({"capture_config": {"video": True}}, "capture_config.video"),
        ({"agent_config": "fast"}, "agent_config"),
    ],
)
async def test_the_async_tool_checks_nested_arguments_like_the_streaming_one(
    mcp: Client, emulator: Any, arguments: dict[str, Any], expected: str
) -> None:
    result = await mcp.call_tool("run_web_automation_async", {"url": SHOP, "goal": "x", **arguments})
    assert result.is_error and expected in result_text(result) and "Traceback" not in result_text(result)
    assert emulator.requests() == []
