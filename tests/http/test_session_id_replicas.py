"""``session_id`` across two hosted replicas sharing one database: one run per retried call.

Two real apps (``create_app``, uvicorn, loopback sockets) share a database and a secret,
as behind a load balancer at one public URL. The user signs in once; calls then land on
either replica. The emulator's request log shows how many runs were created. Runs on
SQLite and, where PostgreSQL's server programs are installed, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pg
import pytest
from _mcp import result_json, result_text
from hosted import Served, oauth_replicas, replica_client, sign_in
from oauth_helpers import RESOURCE, Database

SLOW = "https://shop.example.com/?tf_scenario=slow&tf_steps=30&tf_step_delay=0.1"
CREATES = ("/v1/automation/run-sse", "/v1/automation/run-async")


@pytest.fixture(params=pg.DATABASES)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return await Database.fresh(request, tmp_path, "tfmcp_run_keys")


@pytest.fixture
def replicas(emulator: Any, database: Database) -> Iterator[tuple[Served, Served]]:
    with oauth_replicas(emulator.base_url, database.url) as both:
        yield both


def _creates(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"] in CREATES]


async def test_a_retry_on_the_other_replica_follows_the_same_run(
    replicas: tuple[Served, Served], emulator: Any, database: Database
) -> None:
    first, second = replicas
    token = await sign_in(first, emulator.api_key)
    args = {"url": SLOW, "goal": "Slow task", "session_id": str(uuid.uuid4()), "max_wait_seconds": 1}
    async with replica_client(first, RESOURCE, token) as on_first:
        started = result_json(await on_first.call_tool("run_web_automation", args))
    assert started["status"] in ("PENDING", "RUNNING")
    async with replica_client(second, RESOURCE, token) as on_second:
        again = result_json(await on_second.call_tool("run_web_automation", {**args, "max_wait_seconds": 60}))
        # The async tool takes no max_wait_seconds (an unknown argument is refused).
        start_only = {key: value for key, value in args.items() if key != "max_wait_seconds"}
        background = result_json(await on_second.call_tool("run_web_automation_async", start_only))
    assert again["run_id"] == started["run_id"] == background["run_id"] and again["status"] == "COMPLETED"
    assert len(_creates(emulator)) == 1
    # What the database holds: a digest of the key, never the key itself.
    cells = await database.all_cells()
    assert emulator.api_key.encode() not in cells
    assert started["run_id"].encode() in cells


async def test_simultaneous_calls_on_both_replicas_start_one_run(
    replicas: tuple[Served, Served], emulator: Any
) -> None:
    first, second = replicas
    token = await sign_in(first, emulator.api_key)
    args = {"url": "https://shop.example.com/?tf_steps=4", "goal": "Both at once", "session_id": "s-42"}
    async with (
        replica_client(first, RESOURCE, token) as on_first,
        replica_client(second, RESOURCE, token) as on_second,
    ):
        results = await asyncio.gather(
            on_first.call_tool("run_web_automation", args),
            on_second.call_tool("run_web_automation", args),
            on_first.call_tool("run_web_automation", args),
            on_second.call_tool("run_web_automation", args),
        )
    runs = [result_json(result) for result in results]
    assert len({run["run_id"] for run in runs}) == 1 and {run["status"] for run in runs} == {"COMPLETED"}
    assert len(_creates(emulator)) == 1
    # Another user's identical session_id is their own.
    other_token = await sign_in(second, emulator.other_key)
    async with replica_client(second, RESOURCE, other_token) as theirs:
        their_run = result_json(await theirs.call_tool("run_web_automation", args))
    assert their_run["run_id"] != runs[0]["run_id"] and len(_creates(emulator)) == 2


async def test_a_session_id_reused_for_another_goal_is_refused_on_any_replica(
    replicas: tuple[Served, Served], emulator: Any
) -> None:
    first, second = replicas
    token = await sign_in(first, emulator.api_key)
    session_id = str(uuid.uuid4())
    async with replica_client(first, RESOURCE, token) as on_first:
        result_json(
            await on_first.call_tool(
                "run_web_automation",
                {"url": SLOW, "goal": "A", "session_id": session_id, "max_wait_seconds": 1},
            )
        )
    async with replica_client(second, RESOURCE, token) as on_second:
        refused = await on_second.call_tool(
            "run_web_automation", {"url": SLOW, "goal": "B", "session_id": session_id}
        )
    assert refused.is_error and "already used for a different run" in result_text(refused)
    assert len(_creates(emulator)) == 1


async def test_a_claim_left_by_a_crashed_replica_is_never_re_created(
    replicas: tuple[Served, Served], emulator: Any, database: Database
) -> None:
    first, second = replicas
    token = await sign_in(first, emulator.api_key)
    args = {"url": SLOW, "goal": "Interrupted", "session_id": str(uuid.uuid4()), "max_wait_seconds": 1}
    async with replica_client(first, RESOURCE, token) as on_first:
        result_json(await on_first.call_tool("run_web_automation", args))
    # As if the replica had died after sending the create and before recording the run id.
    await database.execute("UPDATE tfmcp_run_keys SET state = 'starting', run_id = NULL, claimed_at = 0")
    async with replica_client(second, RESOURCE, token) as on_second:
        retried = await on_second.call_tool("run_web_automation", args)
    text = result_text(retried)
    assert retried.is_error and "may have started a run" in text and "list_runs" in text
    assert len(_creates(emulator)) == 1
