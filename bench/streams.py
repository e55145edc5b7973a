"""Concurrent streams: N simultaneous ``run_web_automation`` calls through one server process.

Transport: streamable HTTP (stateless), because a thousand independent requests map onto it
directly — each call is its own POST whose response streams that call's progress — whereas
over stdio all calls would share one pipe and one reader, which tests the client's
multiplexing as much as the server. Each call carries a progress token, so every upstream
event of every run flows emulator → server → client while the others stream.

The emulator scripts each run as ``tf_scenario=slow`` with a few steps (a few seconds each);
its ``--time-scale`` only shortens the 10-minute run limit, which these runs never reach.

Reported: how each call ended (COMPLETED with its run_id; returned RUNNING with its run_id
at the call window; a tool error, naming its run or not; no answer), the runs the emulator
saw created (a run is *lost* when it was created upstream but its run_id never reached the
caller; a call with no answer, or that failed before any run started, is counted apart),
server RSS (``VmRSS`` sampled, and ``VmHWM``), and event-loop lag as seen from outside: the
latency of a tiny ``tools/list`` probe sent every 100 ms on its own connection, idle first
and then under the load (we do not instrument the server). When not one run has started
60 s after the launch, the benchmark stops waiting (the server is stuck).

Targets: RSS < 500 MB, zero lost runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

import httpx

from ._common import (
    BenchError,
    check,
    cpu_seconds,
    emulator,
    finish,
    http_server,
    machine_info,
    make_parser,
    mcp_headers,
    print_table,
    rpc_message,
    rpc_post,
    rss_mb,
    summarize,
    targets_table,
)

NAME = "streams"
# Stop waiting when no progress at all has arrived this long after the launch.
STALL_SECONDS = 60.0
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _outcome(reply: dict[str, Any] | None) -> tuple[str, str | None, str]:
    """How a call ended, the run_id it named (if any), and its text (for error samples)."""
    if reply is None:
        return "no answer", None, ""
    if "error" in reply:
        text = str(reply["error"])
        found = _UUID.search(text)
        return "protocol error", (found.group(0) if found else None), text
    result = reply["result"]
    structured = result.get("structuredContent") or {}
    text = " ".join(str(block.get("text", "")) for block in result.get("content", []))
    run_id = structured.get("run_id") if isinstance(structured, dict) else None
    if not run_id:
        found = _UUID.search(text)
        run_id = found.group(0) if found else None
    if result.get("isError"):
        return ("tool error naming its run" if run_id else "tool error, no run named"), run_id, text
    if not run_id:
        return "answer without a run_id", None, text
    status = structured.get("status") if isinstance(structured, dict) else None
    if status == "COMPLETED":
        return "completed", run_id, text
    if status in ("RUNNING", "PENDING"):
        return "returned RUNNING (call window)", run_id, text
    return f"ended {status}", run_id, text


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


async def _storm(
    url: str, server_pid: int, *, calls: int, run_url: str, max_seconds: float, idle_probe: float
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

            arguments = {"url": run_url, "goal": f"Benchmark stream {index}", "max_wait_seconds": 600}
            params = {"name": "run_web_automation", "arguments": arguments, "_meta": {"progressToken": token}}
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


def run(
    *, quick: bool = False, calls: int | None = None, steps: int | None = None, step_delay: float = 0.5
) -> dict[str, Any]:
    machine = machine_info()
    calls = calls or (20 if quick else 1000)
    steps = steps or (4 if quick else 10)
    max_seconds = 60.0 if quick else 240.0
    run_url = f"https://bench.example.com/?tf_scenario=slow&tf_steps={steps}&tf_step_delay={step_delay}"
    with emulator(time_scale=0.1) as emu:
        with http_server(emu.url, auth="none") as server:
            rss_idle = rss_mb(server.pid)
            httpx.post(f"{emu.url}/_emulator/reset", timeout=10.0)
            got = asyncio.run(
                _storm(
                    f"{server.url}/mcp",
                    server.pid,
                    calls=calls,
                    run_url=run_url,
                    max_seconds=max_seconds,
                    idle_probe=1.0 if quick else 2.0,
                )
            )
            rss_peak = rss_mb(server.pid, peak=True)
            rss_after = rss_mb(server.pid)
        emulator_log = httpx.get(f"{emu.url}/_emulator/requests", timeout=30.0).json()
    created_upstream = sum(
        1 for r in emulator_log if r.get("method") == "POST" and str(r.get("path", "")).endswith("/run-sse")
    )

    outcomes: dict[str, int] = {}
    run_ids: set[str] = set()
    error_samples: dict[str, str] = {}
    for reply in got["replies"]:
        kind, run_id, text = _outcome(reply)
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if run_id:
            run_ids.add(run_id)
        if kind != "completed" and len(error_samples) < 3:
            error_samples.setdefault(text[:300], kind)
    completed = outcomes.get("completed", 0)
    # A lost run: created upstream, but its run_id never reached the caller.
    lost = max(created_upstream - len(run_ids), 0)
    rss_max = max(got["rss"], default=float("nan"))
    idle_stats = summarize(got["idle_probe"])
    loaded_stats = summarize(got["loaded_probe"])
    notifications = sum(got["progress"])
    start_stats = summarize(got["first_progress"], scale=1.0)
    targets = [
        check("server RSS peak (VmHWM)", rss_peak, "<", 500.0, " MB"),
        check("lost runs (created upstream, run_id never returned)", lost, "==", 0),
        check("calls COMPLETED with their run_id", completed, "==", calls),
    ]
    tables = print_table(
        f"Concurrent streams: {calls} run_web_automation calls ({steps} steps x {step_delay:g} s each)",
        [
            "calls",
            "completed",
            "other outcomes",
            "runs created upstream",
            "distinct run_ids",
            "progress notes",
            "wall s",
            "server CPU s",
        ],
        [
            (
                calls,
                completed,
                ", ".join(f"{k}: {v}" for k, v in outcomes.items() if k != "completed") or "-",
                created_upstream,
                len(run_ids),
                notifications,
                got["wall_seconds"],
                got["server_cpu_seconds"],
            )
        ],
    )
    if error_samples:
        tables += print_table(
            "Concurrent streams: what the calls that did not complete said (samples)",
            ["outcome", "text"],
            [(kind, text.replace("|", "/").replace("\n", " ")) for text, kind in error_samples.items()],
        )
    tables += print_table(
        "Concurrent streams: launch → first progress notification (run started upstream), seconds",
        ["n", "p50", "p90", "p99", "max", "run length (steps x delay)"],
        [(*(start_stats.get(k) for k in ("n", "p50", "p90", "p99", "max")), round(steps * step_delay, 2))],
    )
    tables += print_table(
        "Concurrent streams: server memory (MB)",
        ["RSS idle", "RSS max (sampled)", "VmHWM", "RSS after"],
        [(rss_idle, rss_max, rss_peak, rss_after)],
    )
    tables += print_table(
        "Event-loop lag, client-observed: tools/list probe every 100 ms (ms)",
        ["phase", "n", "p50", "p90", "p99", "max"],
        [
            ("idle", *(idle_stats.get(k) for k in ("n", "p50", "p90", "p99", "max"))),
            ("under load", *(loaded_stats.get(k) for k in ("n", "p50", "p90", "p99", "max"))),
        ],
    )
    tables += targets_table(NAME, targets)
    result = {
        "machine": machine,
        "params": {
            "calls": calls,
            "run_url": run_url,
            "max_seconds": max_seconds,
            "transport": "streamable-http",
        },
        "results": {
            "outcomes": outcomes,
            "unfinished_at_deadline": got["unfinished"],
            "stalled_no_run_started": got["stalled"],
            "client_failures": got["failures"][:5],
            "non_completed_samples": [
                {"outcome": kind, "text": text} for text, kind in error_samples.items()
            ],
            "lost_runs": lost,
            "runs_created_upstream": created_upstream,
            "distinct_run_ids": len(run_ids),
            "progress_notifications": notifications,
            "first_progress_s": start_stats,
            "wall_seconds": got["wall_seconds"],
            "server_cpu_seconds": got["server_cpu_seconds"],
            "rss_mb": {"idle": rss_idle, "max_sampled": rss_max, "hwm": rss_peak, "after": rss_after},
            "probe_ms": {"idle": idle_stats, "under_load": loaded_stats},
        },
        "targets": targets,
    }
    return finish(NAME, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--calls", type=int, help="simultaneous calls (default 1000, quick 20)")
    parser.add_argument("--steps", type=int, help="PROGRESS steps per run (default 10, quick 4)")
    parser.add_argument("--step-delay", type=float, default=0.5, help="seconds between steps (default 0.5)")
    args = parser.parse_args()
    run(quick=args.quick, calls=args.calls, steps=args.steps, step_delay=args.step_delay)


if __name__ == "__main__":
    main()
