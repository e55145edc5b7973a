"""Graceful shutdown: SIGTERM to a replica names every in-flight run, another replica follows it."""

from __future__ import annotations

import signal
from typing import Any

import anyio
import httpx
from _mcp import ProgressLog, result_json, streamed_http_call
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from test_workers import _server

from tinyfish_mcp.http.shutdown import graceful_timeout
from tinyfish_mcp.settings import Settings


async def test_sigterm_answers_a_streamed_run_with_its_id_and_another_replica_finishes_it(
    emulator: Any,
) -> None:
    env = {
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_API_KEY": emulator.api_key,
        "TINYFISH_MCP_SHUTDOWN_GRACE_SECONDS": "1",
    }
    # The run lasts about 8 s: longer than the grace, well within the call window.
    url = "https://shop.example.com/?tf_scenario=slow&tf_steps=40&tf_step_delay=0.2"
    with (
        _server("--auth", "none", "--workers", "2", env=env) as (stopping, stopping_url),
        _server("--auth", "none", env=env) as (_, other_url),
    ):
        ready = httpx.get(f"{stopping_url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        progress = ProgressLog()
        answer: dict[str, Any] = {}

        async def call() -> None:
            arguments = {"url": url, "goal": "List products", "max_wait_seconds": 120}
            answer.update(
                await streamed_http_call(f"{stopping_url}/mcp", "run_web_automation", arguments, progress)
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            with anyio.fail_after(30):
                while not any(m and m.startswith("Run ") for m in progress.messages):
                    await anyio.sleep(0.05)
            stopping.send_signal(signal.SIGTERM)
        started = next(m for m in progress.messages if m and m.startswith("Run "))
        run_id = started.split()[1]
        assert answer["run_id"] == run_id
        assert answer["status"] == "RUNNING"
        assert stopping.wait(timeout=60) == 0
        # The run went on upstream: the other replica follows it to its end.
        assert emulator.run(run_id)["status"] == "RUNNING"
        async with Client(streamable_http_client(f"{other_url}/mcp")) as client:
            done = result_json(
                await client.call_tool("wait_for_run", {"run_id": run_id, "max_wait_seconds": 60})
            )
        assert done["run_id"] == run_id
        assert done["status"] == "COMPLETED"


def test_uvicorn_waits_for_the_grace_and_the_last_answers() -> None:
    grace = Settings().mcp_shutdown_grace_seconds
    assert graceful_timeout(grace) > grace
    assert graceful_timeout(0) >= 1


def test_readyz_checks_the_store_and_healthz_stays_liveness(oauth_server: Any) -> None:
    ready = httpx.get(f"{oauth_server.url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert httpx.get(f"{oauth_server.url}/healthz", timeout=10).json()["status"] == "ok"
