"""The team deployment of ``docs/hosting.md``, whole: two replicas on PostgreSQL behind HAProxy.

Everything is real: the replicas are ``tinyfish-mcp http`` processes in oauth mode sharing a
PostgreSQL database and a secret, Debian's HAProxy runs ``deploy/haproxy.cfg`` (routing by
``/readyz``), and the client connects to the proxy only, with a TinyFish key in ``X-API-Key``
(a headless client). A replica is then stopped mid-run the way an orchestrator stops it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pg
import pytest
from _mcp import ProgressLog, result_json, streamed_http_call
from _servers import free_port, stop_process
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from test_workers import _server

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
METRICS_TOKEN = "deployment-metrics-" + "t" * 24
SECRET = "deployment-secret-" + "s" * 40
# About 8 s of steps: longer than the grace period, well within the call window.
SLOW = "https://shop.example.com/?tf_scenario=slow&tf_steps=40&tf_step_delay=0.2"


def _require(found: object, what: str) -> None:
    if found is None:
        message = f"{what} is not installed (.ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def _haproxy() -> str | None:
    beside = "/usr/sbin/haproxy"  # Debian's, when /usr/sbin is not on PATH
    return shutil.which("haproxy") or (beside if os.access(beside, os.X_OK) else None)


@contextmanager
def _proxy(listen: int, replicas: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    program = _haproxy()
    assert program is not None
    env = {
        **os.environ,
        "TFMCP_LISTEN": f"127.0.0.1:{listen}",
        "TFMCP_REPLICA_1": replicas[0].removeprefix("http://"),
        "TFMCP_REPLICA_2": replicas[1].removeprefix("http://"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - the shipped configuration
            [program, "-db", "-f", str(CONFIG)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        stop_process(proc)


def _live_calls(replica: str) -> float:
    """The replica's ``tinyfish_mcp_live_streamed_calls`` (0 once it stops answering)."""
    try:
        text = httpx.get(
            f"{replica}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
        ).text
    except httpx.TransportError:
        return 0.0
    found = re.search(r"^tinyfish_mcp_live_streamed_calls(?:\{[^}]*\})? (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_two_replicas_behind_haproxy_stream_drain_and_hand_over_a_run(
    emulator: Any, pg_cluster: pg.Cluster, tmp_path: Path
) -> None:
    _require(_haproxy(), "HAProxy")
    await pg_cluster.empty_database("tfmcp_deployment")
    listen = free_port()
    public = f"http://127.0.0.1:{listen}"
    env = {
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_MCP_AUTH": "oauth",
        "TINYFISH_MCP_SECRET": SECRET,
        "TINYFISH_MCP_DATABASE_URL": pg_cluster.url("tfmcp_deployment"),
        "TINYFISH_MCP_PUBLIC_URL": public,
        "TINYFISH_MCP_METRICS_TOKEN": METRICS_TOKEN,
        "TINYFISH_MCP_SHUTDOWN_GRACE_SECONDS": "1",
        "TINYFISH_MCP_WORKERS": "1",
    }
    headers = {"X-API-Key": emulator.api_key}
    with (
        _server(env=env) as (first, first_url),
        _server(env=env) as (second, second_url),
    ):
        replicas = {first_url: first, second_url: second}
        with _proxy(listen, list(replicas), tmp_path / "haproxy.log") as proxy:
            # Both replicas pass the proxy's readiness check before the test goes on.
            deadline = time.monotonic() + 20
            while True:
                try:
                    ready = httpx.get(f"{public}/readyz", timeout=2)
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proxy.poll() is None, (tmp_path / "haproxy.log").read_text()
                assert time.monotonic() < deadline, "HAProxy never routed to a ready replica"
                await anyio.sleep(0.2)
            assert ready.json()["status"] == "ready"

            progress = ProgressLog()
            answer: dict[str, Any] = {}

            async def call() -> None:
                arguments = {"url": SLOW, "goal": "List products", "max_wait_seconds": 120}
                answer.update(
                    await streamed_http_call(
                        f"{public}/mcp", "run_web_automation", arguments, progress, headers=headers
                    )
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                # Progress comes through the proxy while the run goes on: nothing buffers the stream.
                with anyio.fail_after(30):
                    while len(progress.messages) < 4:  # the run's start, its live view, steps
                        assert not answer, "the result came before its progress"
                        await anyio.sleep(0.05)
                serving = [url for url in replicas if _live_calls(url) >= 1]
                assert len(serving) == 1, "exactly one replica follows the run"
                stopping = replicas[serving[0]]
                other = next(url for url in replicas if url != serving[0])
                stopping.send_signal(signal.SIGTERM)
                # Draining: the replica turns unready for the proxy at once.
                with anyio.fail_after(5):
                    while True:
                        try:
                            if httpx.get(f"{serving[0]}/readyz", timeout=2).status_code == 503:
                                break
                        except httpx.TransportError:
                            break
                        await anyio.sleep(0.05)

            started = next(m for m in progress.messages if m and m.startswith("Run "))
            run_id = started.split()[1]
            assert answer["run_id"] == run_id
            assert answer["status"] == "RUNNING"
            # A single-process uvicorn re-raises the signal once it has shut down; both are clean.
            assert stopping.wait(timeout=60) in (0, -signal.SIGTERM)
            assert emulator.run(run_id)["status"] == "RUNNING"

            # Through the proxy again: the remaining replica follows the run to its end.
            async with (
                httpx2.AsyncClient(headers=headers, timeout=90) as http,
                Client(streamable_http_client(f"{public}/mcp", http_client=http)) as client,
            ):
                done = result_json(
                    await client.call_tool("wait_for_run", {"run_id": run_id, "max_wait_seconds": 60})
                )
            assert done["run_id"] == run_id
            assert done["status"] == "COMPLETED"
            assert _live_calls(other) == 0
            # One run was created for the whole story, never two.
            creates = [r for r in emulator.requests() if r["path"] == "/v1/automation/run-sse"]
            assert len(creates) == 1
