"""MCP Tasks over streamable HTTP, driven by the official requester (npm ``@modelcontextprotocol/ext-tasks``).

The HTTP side of ``tests/test_tasks_requester.py``: ``@modelcontextprotocol/client`` 2.x pinned
to 2026-07-28, with the package's task session on top, against two hosted replicas in oauth
mode that share ``TINYFISH_MCP_SECRET`` and a database, as behind a load balancer. The user
signs in once; the requester then sends the token to either replica. A slow run settles as a
task with the run's own result, a cancelled task cancels the run upstream, and a task created
through one replica is settled through the other, while another user's token finds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _requester import (
    SLOW_URL,
    assert_cancelled_upstream,
    assert_ran,
    assert_settled_with_the_run,
    cancels,
    creates,
    requester,
)
from hosted import Served, oauth_replicas, sign_in

TOOL = "run_web_automation"
ARGUMENTS = {"url": SLOW_URL, "goal": "List products"}


@pytest.fixture
def replicas(emulator: Any, tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    with oauth_replicas(emulator.base_url, f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}") as both:
        yield both


def _http(served: Served, token: str) -> dict[str, Any]:
    return {"kind": "http", "url": served.mcp_url, "headers": {"Authorization": f"Bearer {token}"}}


async def _requester(transport: dict[str, Any], action: str, **job: Any) -> dict[str, Any]:
    return await asyncio.to_thread(requester, transport, action, **job)


async def test_a_slow_run_settles_as_a_task_with_its_result(
    replicas: tuple[Served, Served], emulator: Any
) -> None:
    first, _ = replicas
    token = await sign_in(first, emulator.api_key)
    report = await _requester(_http(first, token), "settle", tool=TOOL, arguments=ARGUMENTS)
    assert_settled_with_the_run(report, emulator)
    assert [seen["status"] for seen in report["seen"]].count("working") >= 2
    assert len(creates(emulator)) == 1 and not cancels(emulator)


async def test_a_cancelled_task_cancels_the_run_upstream(
    replicas: tuple[Served, Served], emulator: Any
) -> None:
    first, _ = replicas
    token = await sign_in(first, emulator.api_key)
    report = await _requester(_http(first, token), "cancel", tool=TOOL, arguments=ARGUMENTS)
    assert_cancelled_upstream(report, emulator)


async def test_a_task_is_settled_through_the_other_replica(
    replicas: tuple[Served, Served], emulator: Any
) -> None:
    first, second = replicas
    token = await sign_in(first, emulator.api_key)
    started = await _requester(_http(first, token), "start", tool=TOOL, arguments=ARGUMENTS)
    assert_ran(started)
    assert started["kind"] == "task"
    # Another user, on the other replica, holding the reference: "not found".
    other = await sign_in(second, emulator.other_key)
    theirs = await _requester(_http(second, other), "resume", reference=started["reference"])
    assert theirs["code"] == -32602 and "not found" in theirs["error"]
    resumed = await _requester(_http(second, token), "resume", reference=started["reference"])
    assert resumed["taskId"] == started["taskId"]
    assert_settled_with_the_run(resumed, emulator)
    assert len(creates(emulator)) == 1 and not cancels(emulator)
    run_id = resumed["result"]["structuredContent"]["run_id"]
    assert emulator.run(run_id)["owner_key_suffix"] == emulator.api_key[-4:]
