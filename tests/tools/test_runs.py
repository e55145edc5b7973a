"""The runs tools, batches, limits, the run resource and the prompt, over stdio.

One server subprocess serves the module; the emulator is reset before every test.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from _mcp import result_json, result_text
from mcp import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOP = "https://shop.example.com/"


async def _run(mcp: Client, url: str = SHOP, goal: str = "List the products", **extra: Any) -> dict[str, Any]:
    return result_json(await mcp.call_tool("run_web_automation", {"url": url, "goal": goal, **extra}))


async def _start(mcp: Client, url: str, goal: str = "Slow task") -> str:
    started = result_json(await mcp.call_tool("run_web_automation_async", {"url": url, "goal": goal}))
    run_id: str = started["run_id"]
    return run_id


def _size(data: dict[str, Any]) -> int:
    """Characters of the result as the model reads it (compact JSON)."""
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


# --------------------------------------------------------------------------- get_run


async def test_get_run_by_id(mcp: Client, emulator: Any) -> None:
    run_id = (await _run(mcp, f"{SHOP}?tf_steps=3"))["run_id"]
    plain = result_json(await mcp.call_tool("get_run", {"id": run_id}))
    assert plain["status"] == "COMPLETED" and plain["goal"] == "List the products" and "steps" not in plain
    assert plain["result"] == emulator.run(run_id)["result"] and plain["num_of_steps"] == 3


async def test_get_steps_pages_and_bounds_screenshots(mcp: Client, emulator: Any) -> None:
    run_id = (await _run(mcp, f"{SHOP}?tf_steps=12"))["run_id"]
    wire = [s["action"] for s in emulator.run(run_id)["steps"]]

    first = result_json(await mcp.call_tool("get_steps", {"runId": run_id, "limit": 5}))
    assert first["total_steps"] == 12 and first["offset"] == 0 and first["next_offset"] == 5
    assert [s["index"] for s in first["steps"]] == [0, 1, 2, 3, 4]
    assert f"get_steps(runId='{run_id}', offset=5)" in first["next_step"]
    rest = result_json(await mcp.call_tool("get_steps", {"runId": run_id, "offset": 5}))
    assert "next_offset" not in rest and [s["index"] for s in rest["steps"]] == list(range(5, 12))
    assert [s["action"] for s in first["steps"] + rest["steps"]] == wire
    beyond = result_json(await mcp.call_tool("get_steps", {"runId": run_id, "offset": 40}))
    assert beyond["steps"] == [] and beyond["total_steps"] == 12

    # Screenshots are 50-100 KB each upstream: a page with images holds at most 5 steps.
    result = await mcp.call_tool(
        "get_steps", {"runId": run_id, "screenshots": True, "offset": 2, "limit": 50}
    )
    page = result_json(result)
    images = [block for block in result.content if block.type == "image"]
    assert [s["index"] for s in page["steps"]] == [2, 3, 4, 5, 6] and page["next_offset"] == 7
    assert len(images) == 5 and all(img.mime_type == "image/png" for img in images)
    assert base64.b64decode(images[0].data).startswith(b"\x89PNG")
    queries = [r["query"] for r in emulator.requests() if r["path"] == f"/v1/runs/{run_id}"]
    assert queries[-1] == {"screenshots": "base64"} and queries[1] == {}


async def test_get_steps_of_a_huge_run_stays_within_the_result_bound(mcp: Client, emulator: Any) -> None:
    long_goal = "Read every review on the page and note the reviewer's name " * 12
    run_id = (await _run(mcp, f"{SHOP}?tf_steps=100", goal=long_goal))["run_id"]
    shown = 0
    offset: int | None = 0
    while offset is not None:
        page = result_json(
            await mcp.call_tool("get_steps", {"runId": run_id, "offset": offset, "limit": 100})
        )
        assert _size(page) <= 20_000 and page["steps"]
        assert page["steps"][0]["index"] == offset
        shown += len(page["steps"])
        offset = page.get("next_offset")
    assert shown == 100


async def test_big_result_is_clipped_and_read_on_with_offset(mcp: Client, emulator: Any) -> None:
    schema = {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "minItems": 400, "items": {"type": "string", "minLength": 120}},
        },
    }
    first = await _run(mcp, goal="Collect every row", output_schema=schema)
    full = json.dumps(emulator.run(first["run_id"])["result"], ensure_ascii=False)
    assert len(full) > 45_000
    assert isinstance(first["result"], str) and _size(first) <= 20_000
    assert "get_run(id=" in first["next_step"] and "offset=" in first["next_step"]

    pieces, offset = [first["result"]], len(first["result"])
    while offset < len(full):
        page = result_json(await mcp.call_tool("get_run", {"id": first["run_id"], "offset": offset}))
        assert _size(page) <= 20_000
        pieces.append(page["result"])
        offset += len(page["result"])
    assert "".join(pieces) == full
    bigger = result_json(await mcp.call_tool("get_run", {"id": first["run_id"], "max_chars": 100_000}))
    assert bigger["result"] == json.loads(full), "a large enough max_chars returns the result whole"


async def test_get_run_of_a_failed_run_says_what_to_try(mcp: Client, emulator: Any) -> None:
    doomed = {"url": f"{SHOP}?tf_scenario=failed&tf_error=MAX_STEPS_EXCEEDED", "goal": "Too long"}
    assert (await mcp.call_tool("run_web_automation", doomed)).is_error
    run_id = result_json(await mcp.call_tool("list_runs", {}))["runs"][0]["run_id"]
    data = result_json(await mcp.call_tool("get_run", {"id": run_id}))
    assert data["status"] == "FAILED" and data["error"]["code"] == "MAX_STEPS_EXCEEDED"
    assert data["error"]["category"] == "AGENT_FAILURE" and data["error"]["help_url"]
    assert "raise agent_config.max_steps" in data["next_step"]


async def test_get_run_limits_are_checked(mcp: Client, emulator: Any) -> None:
    for args in ({"id": "x", "max_chars": 999}, {"id": "x", "offset": -1}, {"id": ""}):
        assert (await mcp.call_tool("get_run", args)).is_error
    assert emulator.requests() == []


# --------------------------------------------------------------------------- list_runs


async def test_list_runs_filters_and_pages(mcp: Client, emulator: Any) -> None:
    long_goal = "Find the cheapest flight " + "and compare every airline carefully " * 6
    await _run(mcp, goal=long_goal)
    await _run(mcp, goal="Check the weather")
    doomed = {"url": f"{SHOP}?tf_scenario=failed&tf_error=TASK_FAILED", "goal": "Doomed"}
    assert (await mcp.call_tool("run_web_automation", doomed)).is_error

    page1 = result_json(await mcp.call_tool("list_runs", {"limit": 2}))
    assert page1["total"] == 3 and len(page1["runs"]) == 2 and page1["next_cursor"]
    assert page1["runs"][0]["goal"] == "Doomed", "newest first"
    page2 = result_json(await mcp.call_tool("list_runs", {"limit": 2, "cursor": page1["next_cursor"]}))
    assert len(page2["runs"]) == 1 and "next_cursor" not in page2
    row = page2["runs"][0]
    assert len(row["goal"]) == 120 and row["goal"].endswith("…") and long_goal.startswith(row["goal"][:-1])
    assert set(row) >= {"run_id", "status", "goal", "created_at", "finished_at"}

    failed = result_json(await mcp.call_tool("list_runs", {"status": "FAILED"}))
    assert [r["goal"] for r in failed["runs"]] == ["Doomed"]
    weather = result_json(await mcp.call_tool("list_runs", {"goal": "weather", "sort_direction": "asc"}))
    assert [r["goal"] for r in weather["runs"]] == ["Check the weather"]


@pytest.mark.parametrize(
    "args",
    [
        {"limit": 0},
        {"limit": 101},
        {"status": "DONE"},
        {"created_after": "yesterday"},
        {"sort_direction": "up"},
    ],
)
async def test_list_runs_bad_filters_are_refused_locally(
    mcp: Client, emulator: Any, args: dict[str, Any]
) -> None:
    result = await mcp.call_tool("list_runs", args)
    assert result.is_error and next(iter(args)) in result_text(result)
    assert emulator.requests() == []


# --------------------------------------------------------------------------- cancel_run


async def test_cancel_run_is_idempotent_as_documented(mcp: Client, emulator: Any) -> None:
    run_id = await _start(mcp, f"{SHOP}?tf_scenario=slow")
    first = result_json(await mcp.call_tool("cancel_run", {"id": run_id}))
    assert first["status"] == "CANCELLED" and first["cancelled_at"] and "message" not in first
    again = result_json(await mcp.call_tool("cancel_run", {"id": run_id}))
    assert again["status"] == "CANCELLED" and again["message"] == "Run already cancelled"

    done = (await _run(mcp))["run_id"]
    finished = result_json(await mcp.call_tool("cancel_run", {"id": done}))
    assert finished["status"] == "COMPLETED" and finished["message"] == "Run already finished"
    assert "cancelled_at" not in finished


# --------------------------------------------------------------------------- batches


async def test_batch_start_get_and_cancel(mcp: Client, emulator: Any) -> None:
    runs = [
        {"url": f"{SHOP}?tf_scenario=slow", "goal": "one"},
        {"url": "shop.example.com/b?tf_scenario=slow", "goal": "two", "browser_profile": "stealth"},
        {"url": f"{SHOP}?tf_scenario=slow", "goal": "three", "agent_config": {"max_steps": 5}},
    ]
    started = result_json(await mcp.call_tool("batch_create", {"runs": runs}))
    ids = started["run_ids"]
    assert len(ids) == 3 and "batch_status" in started["next_step"]
    body = next(r["body"] for r in emulator.requests() if r["path"] == "/v1/automation/run-batch")
    assert body["runs"][1] == {
        "url": "https://shop.example.com/b?tf_scenario=slow",
        "goal": "two",
        "browser_profile": "stealth",
    }
    assert body["runs"][2]["agent_config"] == {"max_steps": 5}
    assert body["api_integration"] == "tinyfish-mcp" and "api_integration" not in body["runs"][0]
    assert all(emulator.run(run_id)["api_integration"] == "tinyfish-mcp" for run_id in ids)

    got = result_json(await mcp.call_tool("batch_status", {"run_ids": [*ids, "missing-1"]}))
    assert [r["run_id"] for r in got["runs"]] == ids and got["not_found"] == ["missing-1"]
    assert [r["goal"] for r in got["runs"]] == ["one", "two", "three"]

    cancelled = result_json(await mcp.call_tool("batch_cancel", {"run_ids": [ids[0], ids[1], "missing-2"]}))
    assert {r["run_id"]: r["status"] for r in cancelled["results"]} == {
        ids[0]: "CANCELLED",
        ids[1]: "CANCELLED",
    }
    assert cancelled["not_found"] == ["missing-2"]
    assert emulator.run(ids[2])["status"] in ("PENDING", "RUNNING")


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("batch_create", {"runs": []}, "at least 1 item"),
        ("batch_create", {"runs": [{"url": SHOP, "goal": "x"}] * 101}, "at most 100 items"),
        ("batch_status", {"run_ids": []}, "at least 1 item"),
        ("batch_status", {"run_ids": [f"r{i}" for i in range(101)]}, "at most 100 items"),
        ("batch_cancel", {"run_ids": []}, "at least 1 item"),
        ("batch_cancel", {"run_ids": [f"r{i}" for i in range(101)]}, "at most 100 items"),
        ("batch_status", {"run_ids": ["ok", ""]}, "`run_ids[1]` must not be empty"),
        (
            "batch_create",
            {"runs": [{"url": SHOP, "goal": "x"}, {"url": "ftp://x.example", "goal": "y"}]},
            "runs[1].url uses the ftp:// scheme",
        ),
        ("batch_create", {"runs": [{"url": SHOP}]}, "`runs[0].goal` is required and missing"),
        (
            "batch_create",
            {"runs": [{"url": SHOP, "goal": "x", "colour": "red"}]},
            "`runs[0].colour` is not a known field",
        ),
    ],
)
async def test_batch_limits_are_checked_before_any_upstream_call(
    mcp: Client, emulator: Any, tool: str, args: dict[str, Any], expected: str
) -> None:
    result = await mcp.call_tool(tool, args)
    assert result.is_error and expected in result_text(result)
    assert emulator.requests() == []


async def test_batch_of_100_is_accepted(mcp: Client, emulator: Any) -> None:
    runs = [{"url": f"{SHOP}?n={i}", "goal": f"run {i}"} for i in range(100)]
    started = result_json(await mcp.call_tool("batch_create", {"runs": runs}))
    assert len(started["run_ids"]) == 100
    got = result_json(await mcp.call_tool("batch_status", {"run_ids": started["run_ids"]}))
    assert len(got["runs"]) == 100 and got["not_found"] == []


async def test_failed_batch_is_never_resent(mcp: Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-batch", status=500)
    result = await mcp.call_tool("batch_create", {"runs": [{"url": SHOP, "goal": "x"}]})
    assert result.is_error and "starting the batch" in result_text(result)
    assert len([r for r in emulator.requests() if r["path"] == "/v1/automation/run-batch"]) == 1


# --------------------------------------------------------------------------- resource and prompt


async def test_run_resource_returns_the_run_as_json(mcp: Client, emulator: Any) -> None:
    run_id = (await _run(mcp, f"{SHOP}?tf_steps=2"))["run_id"]
    templates = (await mcp.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["tinyfish://runs/{run_id}"]
    read = await mcp.read_resource(f"tinyfish://runs/{run_id}")
    content = read.contents[0]
    assert content.mime_type == "application/json"
    data = json.loads(content.text)  # type: ignore[union-attr]
    assert data["run_id"] == run_id and data["status"] == "COMPLETED" and len(data["steps"]) == 2


async def test_unknown_run_resource_is_an_error(mcp: Client, emulator: Any) -> None:
    with pytest.raises(Exception, match="NOT_FOUND"):
        await mcp.read_resource("tinyfish://runs/no-such-run")


async def test_goal_prompt(mcp: Client, emulator: Any) -> None:
    prompts = (await mcp.list_prompts()).prompts
    assert [p.name for p in prompts] == ["write_web_goal"]
    got = await mcp.get_prompt(
        "write_web_goal", {"task": "Compare the prices of three laptops", "url": "shop.example"}
    )
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert "Compare the prices of three laptops" in text and "Start page: shop.example" in text
    assert "output_schema" in text and "stop" in text.lower()
