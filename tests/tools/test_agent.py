"""run_web_automation and wait_for_run, through the real server on stdio against the emulator.

One server subprocess serves the whole module (starting one takes seconds); the
emulator is reset before every test. Progress, cancellation, stream fallback, the call
window and every run outcome are checked as a desktop client sees them.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import pytest_asyncio
from _mcp import ProgressLog, result_json, result_text, shared_stdio_server
from mcp import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOP = "https://shop.example.com/"
API_KEY = "sk-tinyfish-emulator"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def mcp_legacy(emulator_server: Any) -> AsyncIterator[Client]:
    """The stdio server with a client of the initialize-handshake era."""
    async for client in shared_stdio_server(emulator_server.base_url, API_KEY, mode="legacy"):
        yield client


@pytest.fixture(params=["auto", "legacy"])
def any_era(request: pytest.FixtureRequest) -> Client:
    """Progress and cancellation work differently per era in the SDK: test both."""
    client: Client = request.getfixturevalue("mcp" if request.param == "auto" else "mcp_legacy")
    return client


async def _wait_for(check: Any, timeout: float = 5.0) -> Any:
    """Poll the emulator until ``check()`` is truthy, letting the client's tasks run meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        await anyio.sleep(0.02)


async def test_progress_reports_every_event_in_order(any_era: Client, emulator: Any) -> None:
    mcp = any_era
    log = ProgressLog()
    result = await mcp.call_tool(
        "run_web_automation",
        {"url": f"{SHOP}?tf_steps=4&tf_step_delay=0.15", "goal": "List the products"},
        progress_callback=log,
    )
    data = result_json(result)
    run = emulator.run(data["run_id"])
    assert data["status"] == "COMPLETED" and data["num_of_steps"] == 4
    assert data["result"] == run["result"]
    # Counters strictly increase, so a client's progress bar and timeout reset both work.
    assert log.counters == sorted(set(log.counters)) and log.counters[0] == 1
    messages = log.messages
    assert messages[0] == f"Run {data['run_id']} started"
    assert messages[1] == f"Watch the browser live: {run['streaming_url']}"
    # Each PROGRESS event's purpose, in order; heartbeats are notifications with no message.
    assert [m for m in messages[2:] if m is not None] == [step["action"] for step in run["steps"]]
    assert None in messages[2:], "steps 0.15 s apart with 0.05 s heartbeats must show heartbeats"


async def test_client_cancel_cancels_the_upstream_run(any_era: Client, emulator: Any) -> None:
    mcp = any_era
    log = ProgressLog()
    with anyio.move_on_after(1.0) as scope:
        await mcp.call_tool(
            "run_web_automation",
            {"url": f"{SHOP}?tf_scenario=slow&tf_step_delay=0.1", "goal": "Browse slowly"},
            progress_callback=log,
        )
    assert scope.cancelled_caught
    run_id = log.run_id()
    run = await _wait_for(lambda: (r := emulator.run(run_id))["status"] == "CANCELLED" and r)
    assert run and run["cancel_requested"] is True
    cancels = [r for r in emulator.requests() if r["path"] == f"/v1/runs/{run_id}/cancel"]
    assert len(cancels) == 1 and cancels[0]["method"] == "POST"
    # The session is still usable after a cancelled call.
    assert result_json(await mcp.call_tool("get_run", {"id": run_id}))["status"] == "CANCELLED"


async def test_dropped_stream_falls_back_to_polling(any_era: Client, emulator: Any) -> None:
    mcp = any_era
    emulator.fault("/v1/automation/run-sse", drop_after=3)
    log = ProgressLog()
    result = await mcp.call_tool(
        "run_web_automation",
        {"url": f"{SHOP}?tf_steps=6&tf_step_delay=0.1", "goal": "List the products"},
        progress_callback=log,
    )
    data = result_json(result)
    run = emulator.run(data["run_id"])
    assert data["status"] == "COMPLETED" and data["result"] == run["result"]
    polls = [
        r for r in emulator.requests() if r["method"] == "GET" and r["path"] == f"/v1/runs/{data['run_id']}"
    ]
    assert polls, "the run must be followed by polling GET /v1/runs/{id}"
    assert "The live stream broke; following the run by polling" in log.messages
    # Steps are reported once each, in order, whether they came by stream or by poll.
    steps = [m for m in log.messages[2:] if m is not None and not m.startswith("The live stream")]
    assert steps == [step["action"] for step in run["steps"]]
    assert log.counters == sorted(set(log.counters))


async def test_call_window_returns_running_and_wait_for_run_finishes(mcp: Client, emulator: Any) -> None:
    url = f"{SHOP}?tf_scenario=slow&tf_steps=12&tf_step_delay=0.12"
    first = result_json(
        await mcp.call_tool("run_web_automation", {"url": url, "goal": "Slow task", "max_wait_seconds": 1})
    )
    run_id = first["run_id"]
    assert first["status"] == "RUNNING"
    assert f"wait_for_run(run_id='{run_id}')" in first["next_step"]
    assert emulator.run(run_id)["cancel_requested"] is False, "closing the window must not cancel the run"

    log = ProgressLog()
    final = result_json(await mcp.call_tool("wait_for_run", {"run_id": run_id}, progress_callback=log))
    assert final["status"] == "COMPLETED" and final["num_of_steps"] == 12
    assert log.messages[0] is not None and log.messages[0].startswith(f"Run {run_id} is RUNNING")
    assert log.counters == sorted(set(log.counters))
    reported = [m for m in log.messages[1:] if m is not None]
    assert reported and set(reported) <= {step["action"] for step in emulator.run(run_id)["steps"]}


async def test_wait_for_run_window_returns_running(mcp: Client, emulator: Any) -> None:
    started = result_json(
        await mcp.call_tool(
            "run_web_automation_async", {"url": f"{SHOP}?tf_scenario=slow&tf_steps=30", "goal": "Slow"}
        )
    )
    waited = result_json(
        await mcp.call_tool("wait_for_run", {"run_id": started["run_id"], "max_wait_seconds": 1})
    )
    assert waited["status"] in ("PENDING", "RUNNING") and "wait_for_run" in waited["next_step"]
    assert emulator.run(started["run_id"])["cancel_requested"] is False


ADVICE = {
    "SITE_BLOCKED": ["browser_profile='stealth'", "proxy_config"],
    "TIMEOUT": ["split the goal"],
    "MAX_STEPS_EXCEEDED": ["raise agent_config.max_steps"],
    "INSUFFICIENT_CREDITS": ["add credits"],
    "TASK_FAILED": ["rephrase the goal"],
    "INTERNAL_ERROR": ["infrastructure failure", "retry the same run after 30 seconds"],
}


@pytest.mark.parametrize("code", sorted(ADVICE))
async def test_failed_run_is_a_tool_error_that_says_what_to_try(
    mcp: Client, emulator: Any, code: str
) -> None:
    result = await mcp.call_tool(
        "run_web_automation", {"url": f"{SHOP}?tf_scenario=failed&tf_error={code}", "goal": "Try"}
    )
    assert result.is_error
    text = result_text(result)
    # The run id is named, so the run is never lost.
    match = re.search(r"Run (\S+) FAILED with (\w+): ", text)
    assert match is not None and match.group(2) == code
    assert emulator.run(match.group(1))["status"] == "FAILED"
    for hint in ADVICE[code]:
        assert hint in text


async def test_overlimit_run_fails_with_timeout(mcp: Client, emulator: Any) -> None:
    result = await mcp.call_tool(
        "run_web_automation", {"url": f"{SHOP}?tf_scenario=overlimit", "goal": "Long"}
    )
    assert result.is_error and "FAILED with TIMEOUT" in result_text(result)


@pytest.mark.parametrize("scenario", ["goal_failure", "captcha"])
async def test_goal_failure_is_completed_with_a_warning(mcp: Client, emulator: Any, scenario: str) -> None:
    data = result_json(
        await mcp.call_tool(
            "run_web_automation", {"url": f"{SHOP}?tf_scenario={scenario}", "goal": "Find it"}
        )
    )
    assert data["status"] == "COMPLETED"
    assert data["result"]["status"] == "failure"
    assert "NOT achieved" in data["warning"]
    if scenario == "captcha":
        assert "stealth" in data["warning"] and "proxy_config" in data["warning"]


async def test_success_has_no_warning_and_sends_the_request_as_documented(mcp: Client, emulator: Any) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "price": {"type": "number"}}}
    data = result_json(
        await mcp.call_tool(
            "run_web_automation",
            {
                "url": "shop.example.com/item",
                "goal": "Get the name and price",
                "browser_profile": "stealth",
                "proxy_config": {"country_code": "DE"},
                "output_schema": schema,
                "agent_config": {"max_steps": 30, "mode": "strict", "cursor_style": "green-pointer"},
                "capture_config": {"screenshots": True, "html": False},
                "profile_id": "prof-1",
            },
        )
    )
    assert "warning" not in data and data["status"] == "COMPLETED"
    assert set(data["result"]) == {"name", "price"}
    body = next(r["body"] for r in emulator.requests() if r["path"] == "/v1/automation/run-sse")
    assert body == {
        "url": "https://shop.example.com/item",
        "goal": "Get the name and price",
        "browser_profile": "stealth",
        "proxy_config": {"enabled": True, "country_code": "DE"},
        "output_schema": schema,
        "agent_config": {"max_steps": 30, "mode": "strict", "cursor_style": "green-pointer"},
        "capture_config": {"screenshots": True, "html": False},
        "use_profile": True,
        "profile_id": "prof-1",
        "api_integration": "tinyfish-mcp",
    }
    assert emulator.run(data["run_id"])["api_integration"] == "tinyfish-mcp"
