"""The dataset tools through a real MCP client: planned, created, populated with progress, read."""

from __future__ import annotations

import time
from typing import Any

import anyio
from _inmemory import connect, error_text, structured
from _mcp import ProgressLog, stdio_server


def _dataset(emulator: Any, ident: str) -> dict[str, Any]:
    return emulator.read(f"/v1/datasets/{ident}")


async def test_dataset_planned_created_populated_with_progress_and_read(emulator: Any) -> None:
    log = ProgressLog()
    async with stdio_server(emulator, toolsets="datasets") as client:
        planned = structured(await client.call_tool("plan_dataset", {"prompt": "Coffee grinders under $200"}))
        spec = planned["spec"]
        assert [c["name"] for c in spec["columns"]] == ["name", "url", "price"]
        created = structured(
            await client.call_tool("create_dataset", {"spec": spec, "target_rows": 4}, progress_callback=log)
        )
        assert (created["status"], created["row_count"], created["run_status"]) == ("ready", 4, "done")
        rows = [m for m in log.messages if m and m.startswith("Row ")]
        assert rows == ["Row 1: name 1", "Row 2: name 2", "Row 3: name 3", "Row 4: name 4"]
        assert f"Population run {created['run_id']} is running" in log.messages
        assert f"Population run {created['run_id']} is done" in log.messages
        first = structured(
            await client.call_tool("read_dataset", {"dataset_id": created["dataset_id"], "limit": 3})
        )
        rest = structured(
            await client.call_tool(
                "read_dataset", {"dataset_id": created["dataset_id"], "cursor": first["next_cursor"]}
            )
        )
    assert [r["name"] for r in first["rows"] + rest["rows"]] == ["name 1", "name 2", "name 3", "name 4"]
    assert first["columns"] == ["name", "url", "price"] and "next_cursor" not in rest
    create = next(r for r in emulator.requests() if r["path"] == "/v1/datasets" and r["method"] == "POST")
    assert create["body"] == {"spec": spec, "target_rows": 4, "populate": True}


async def test_population_outlives_the_window_and_is_followed_again(emulator: Any) -> None:
    async with connect(emulator, mcp_toolsets=("datasets",)) as client:
        first = structured(
            await client.call_tool(
                "create_dataset",
                {"prompt": "Tide stations tf_delay=0.3", "target_rows": 6, "max_wait_seconds": 1},
            )
        )
        assert first["status"] == "populating" and first["run_status"] in ("queued", "running")
        assert "populate_dataset(dataset_id=" in first["next_step"]
        log = ProgressLog()
        done = structured(
            await client.call_tool(
                "populate_dataset", {"dataset_id": first["dataset_id"]}, progress_callback=log
            )
        )
    assert (done["status"], done["row_count"], done["run_id"]) == ("ready", 6, first["run_id"])
    # The running population was followed, not started again.
    assert not [r for r in emulator.requests() if r["path"].endswith("/populate")]


async def test_client_cancel_cancels_the_population_and_errors_are_exact(emulator: Any) -> None:
    async with connect(emulator, mcp_toolsets=("datasets",)) as client:
        log = ProgressLog()
        with anyio.move_on_after(1.0) as scope:
            await client.call_tool(
                "create_dataset",
                {"prompt": "Slow list tf_delay=0.5", "target_rows": 50},
                progress_callback=log,
            )
        assert scope.cancelled_caught
        first = log.messages[0]
        assert first is not None and first.startswith("Dataset ds_")
        dataset_id = first.split()[1].rstrip(":")
        deadline = time.monotonic() + 5
        while _dataset(emulator, dataset_id)["status"] != "cancelled" and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        assert _dataset(emulator, dataset_id)["status"] == "cancelled"
        both = error_text(await client.call_tool("create_dataset", {"prompt": "x", "spec": {"name": "x"}}))
        bad = error_text(
            await client.call_tool(
                "create_dataset",
                {"spec": {"name": "n", "description": "d", "columns": [{"name": "a", "type": "text"}]}},
            )
        )
        gone = structured(await client.call_tool("delete_dataset", {"dataset_id": dataset_id}))
        missing = error_text(await client.call_tool("read_dataset", {"dataset_id": dataset_id}))
    assert both.endswith("Give exactly one of prompt or spec (plan_dataset makes a spec from a prompt).")
    assert "`spec.columns[0].type` must be one of: 'string', 'number', 'boolean', 'url' or 'date'" in bad
    assert "`spec.columns[0].is_primary_key` is required and missing" in bad
    assert gone["status"] == "deleted"
    assert "NOT_FOUND" in missing and "list_datasets shows your datasets" in missing
