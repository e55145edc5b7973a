"""``session_id``: a retried run call follows the run it already started, over stdio.

The emulator's request log is the witness: however a call is repeated, one creation
request reaches TinyFish per session_id and API key.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from _mcp import memory_server, result_json, result_text
from mcp import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOP = "https://shop.example.com/"
SLOW = f"{SHOP}?tf_scenario=slow&tf_steps=30&tf_step_delay=0.1"
CREATES = ("/v1/automation/run-sse", "/v1/automation/run-async", "/v1/automation/run")


def _creates(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"] in CREATES]


def _runs_created(emulator: Any) -> int:
    """How many runs the emulator holds for the test key (a refused request creates none)."""
    listed = emulator.http.get(f"{emulator.base_url}/v1/runs", headers={"X-API-Key": emulator.api_key})
    total: int = listed.json()["pagination"]["total"]
    return total


async def test_a_retried_call_follows_the_run_already_started(mcp: Client, emulator: Any) -> None:
    args = {"url": SLOW, "goal": "Slow task", "session_id": str(uuid.uuid4()), "max_wait_seconds": 1}
    first = result_json(await mcp.call_tool("run_web_automation", args))
    assert first["status"] in ("PENDING", "RUNNING")
    second = result_json(await mcp.call_tool("run_web_automation", {**args, "max_wait_seconds": 60}))
    assert second["run_id"] == first["run_id"] and second["status"] == "COMPLETED"
    assert len(_creates(emulator)) == 1
    # A finished run is returned as it is, still without a new run.
    third = result_json(await mcp.call_tool("run_web_automation", args))
    assert third["run_id"] == first["run_id"] and third["status"] == "COMPLETED"
    assert len(_creates(emulator)) == 1


async def test_concurrent_calls_with_one_session_id_start_one_run(mcp: Client, emulator: Any) -> None:
    args = {"url": f"{SHOP}?tf_steps=4", "goal": "Twice at once", "session_id": str(uuid.uuid4())}
    results = await asyncio.gather(*(mcp.call_tool("run_web_automation", args) for _ in range(3)))
    runs = [result_json(result) for result in results]
    assert len({run["run_id"] for run in runs}) == 1 and {run["status"] for run in runs} == {"COMPLETED"}
    assert len(_creates(emulator)) == 1


async def test_the_async_tool_and_the_streaming_tool_share_the_session_id(mcp: Client, emulator: Any) -> None:
    args = {"url": SLOW, "goal": "Background task", "session_id": str(uuid.uuid4())}
    started = result_json(await mcp.call_tool("run_web_automation_async", args))
    again = result_json(await mcp.call_tool("run_web_automation_async", args))
    assert again["run_id"] == started["run_id"] and "nothing new was started" in again["next_step"]
    followed = result_json(await mcp.call_tool("run_web_automation", {**args, "max_wait_seconds": 1}))
    assert followed["run_id"] == started["run_id"]
    assert [r["path"] for r in _creates(emulator)] == ["/v1/automation/run-async"]
    result_json(await mcp.call_tool("cancel_run", {"id": started["run_id"]}))


async def test_a_session_id_names_one_run(mcp: Client, emulator: Any) -> None:
    session_id = str(uuid.uuid4())
    first = result_json(
        await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "One", "session_id": session_id})
    )
    other = await mcp.call_tool("run_web_automation", {"url": SHOP, "goal": "Two", "session_id": session_id})
    text = result_text(other)
    assert other.is_error and "already used for a different run" in text and first["run_id"] in text
    assert len(_creates(emulator)) == 1


async def test_a_refused_creation_can_be_retried_with_the_same_session_id(mcp: Client, emulator: Any) -> None:
    args = {"url": SHOP, "goal": "Refused first", "session_id": str(uuid.uuid4())}
    emulator.fault("/v1/automation/run-sse", status=403)
    refused = await mcp.call_tool("run_web_automation", {**args})
    assert refused.is_error and "FORBIDDEN" in result_text(refused)
    assert _runs_created(emulator) == 0
    done = result_json(await mcp.call_tool("run_web_automation", args))
    assert done["status"] == "COMPLETED" and _runs_created(emulator) == 1


async def test_a_creation_that_may_have_started_is_never_repeated(mcp: Client, emulator: Any) -> None:
    args = {"url": SHOP, "goal": "Unclear", "session_id": str(uuid.uuid4())}
    emulator.fault("/v1/automation/run-sse", status=500)
    failed = await mcp.call_tool("run_web_automation", args)
    assert failed.is_error and "list_runs" in result_text(failed)
    retried = await mcp.call_tool("run_web_automation", args)
    text = result_text(retried)
    assert retried.is_error and "may have started a run" in text and "new session_id" in text
    assert len(_creates(emulator)) == 1


async def test_session_ids_belong_to_their_api_key(mcp: Client, emulator: Any) -> None:
    args = {"url": SHOP, "goal": "Mine", "session_id": str(uuid.uuid4())}
    mine = result_json(await mcp.call_tool("run_web_automation", args))
    async with memory_server(emulator, api_key=emulator.other_key) as theirs:
        their_run = result_json(await theirs.call_tool("run_web_automation", args))
    assert their_run["run_id"] != mine["run_id"]
    assert [r["key_suffix"] for r in _creates(emulator)] == [emulator.api_key[-4:], emulator.other_key[-4:]]


async def test_without_a_session_id_every_call_starts_a_run(mcp: Client, emulator: Any) -> None:
    args = {"url": SHOP, "goal": "No key"}
    first = result_json(await mcp.call_tool("run_web_automation", args))
    second = result_json(await mcp.call_tool("run_web_automation", args))
    assert first["run_id"] != second["run_id"] and len(_creates(emulator)) == 2
