"""Many concurrent streamed tool calls over streamable HTTP (stateless), one POST each.

Each call is its own POST whose response streams that call's progress; a ``tools/list``
probe every 100 ms on its own connection stands in for event-loop lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx

from ._common import BenchError, cpu_seconds, mcp_headers, rpc_message, rpc_post, rss_mb

# Stop waiting when no progress at all has arrived this long after the launch.
STALL_SECONDS = 60.0


async def _probe(url: str, stop: asyncio.Event, samples: list[float]) -> None:
    """A ``tools/list`` every 100 ms on its own connection; its latency stands in for loop lag."""
    async with httpx.AsyncClient(timeout=60.0) as client:
        sequence = 0
        while not stop.is_set():
            sequence += 1
            started = time.perf_counter()
            try:
                await rpc_post(client, url, rpc_message(f"probe-{sequence}", "tools/list", {}), mcp_headers())
                samples.append(time.perf_counter() - started)
            except (httpx.HTTPError, BenchError):
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, 0.1 - (time.perf_counter() - started)))


async def http_storm(
    url: str,
    server_pid: int,
    *,
    calls: int,
    arguments: Callable[[int], dict[str, Any]],
    max_seconds: float,
    idle_probe: float,
) -> dict[str, Any]:
    idle: list[float] = []
    loaded: list[float] = []
    rss: list[float] = []
    progress = [0] * calls
    first_progress: list[float | None] = [None] * calls
    launched = time.perf_counter()
    replies: list[dict[str, Any] | None] = [None] * calls
    failures: list[str] = []

    stop_idle = asyncio.Event()
    idle_task = asyncio.create_task(_probe(url, stop_idle, idle))
    await asyncio.sleep(idle_probe)
    stop_idle.set()
    await idle_task

    limits = httpx.Limits(max_connections=calls + 10, max_keepalive_connections=calls + 10)
    async with httpx.AsyncClient(timeout=httpx.Timeout(max_seconds), limits=limits) as client:

        async def one(index: int) -> None:
            token = f"stream-{index}"

            def on_notification(message: dict[str, Any]) -> None:
                if message.get("method") == "notifications/progress":
                    progress[index] += 1
                    if first_progress[index] is None:
                        first_progress[index] = time.perf_counter() - launched

            params = {
                "name": "run_web_automation",
                "arguments": arguments(index),
                "_meta": {"progressToken": token},
            }
            try:
                replies[index] = await rpc_post(
                    client,
                    url,
                    rpc_message(index, "tools/call", params),
                    mcp_headers(),
                    on_notification=on_notification,
                )
            except (httpx.HTTPError, BenchError) as exc:
                failures.append(repr(exc)[:200])

        stop = asyncio.Event()

        async def sample_rss() -> None:
            while not stop.is_set():
                rss.append(rss_mb(server_pid))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)

        started = launched = time.perf_counter()
        cpu_before = cpu_seconds(server_pid)
        helpers = [asyncio.create_task(_probe(url, stop, loaded)), asyncio.create_task(sample_rss())]
        tasks = [asyncio.create_task(one(i)) for i in range(calls)]
        pending: set[asyncio.Task[None]] = set(tasks)
        stalled = False
        while pending and time.perf_counter() - started < max_seconds:
            _done, pending = await asyncio.wait(pending, timeout=1.0)
            # Give up early when not one run has even started: the server is stuck, and
            # waiting out the whole bound would only burn the shared machine's time.
            if not any(progress) and time.perf_counter() - started > STALL_SECONDS:
                stalled = True
                break
        wall = time.perf_counter() - started
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        stop.set()
        await asyncio.gather(*helpers)
        cpu_used = cpu_seconds(server_pid) - cpu_before
    return {
        "replies": replies,
        "progress": progress,
        "first_progress": [t for t in first_progress if t is not None],
        "failures": failures,
        "unfinished": len(pending),
        "stalled": stalled,
        "wall_seconds": round(wall, 2),
        "idle_probe": idle,
        "loaded_probe": loaded,
        "rss": rss,
        "server_cpu_seconds": round(cpu_used, 2),
    }
