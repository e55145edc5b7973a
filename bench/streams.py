"""Concurrent streams: N simultaneous ``run_web_automation`` calls through one server process.

Two transports:

* ``stdio`` (the default; 10,000 calls): the benchmark spawns ``python -m tinyfish_mcp``
  and speaks JSON-RPC lines on its pipes itself (``_stdio_storm.py``). One server process
  then holds one pipe to its client plus one upstream SSE connection per run, which is how
  10,000 fit under this container's 20,000 file-descriptor limit.
* ``http`` (1,000 calls): stateless streamable HTTP, one POST per call whose response
  streams that call's progress (``_http_storm.py``). The server holds two sockets per
  stream (the caller's and the upstream one), so 10,000 would need about 20,000
  descriptors in the server process alone: over this container's limit, which root
  without CAP_SYS_RESOURCE cannot raise.

Every call carries a distinct progress token, so every upstream event of every run flows
emulator → server → client while the others stream. The emulator scripts each run as
``tf_scenario=slow`` with ``--steps`` steps ``--step-delay`` seconds apart; it sends a
HEARTBEAT after ``--heartbeat`` quiet seconds (our server relays each as a progress
notification). Runs last long enough that all of them stream at once: the emulator counts
its open ``/run-sse`` streams and reports the most open at once.

Reported: how each call ended (COMPLETED with its run_id; returned RUNNING with its run_id
at the call window; a tool error, naming its run or not; no answer), the runs the emulator
saw created (a run is *lost* when it was created upstream but its run_id never reached the
caller), progress notifications per call, server RSS (``VmRSS`` sampled, ``VmHWM``) and
RSS per stream, and event-loop lag as seen from outside: the round trip of a tiny probe
every 100 ms (a ``ping`` on the same pipe over stdio; a ``tools/list`` on its own
connection over HTTP), idle first and then under the load. When not one run has started
60 s after the launch, the benchmark stops waiting (the server is stuck).

Targets: RSS < 1 GB (stdio, 10,000) or < 500 MB (HTTP, 1,000), zero lost runs, and every
call COMPLETED with its run_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

import httpx

from ._common import (
    check,
    emulator,
    finish,
    http_server,
    machine_info,
    make_parser,
    mcp_headers,
    ours_stdio_argv,
    print_table,
    rpc_message,
    rss_mb,
    server_env,
    summarize,
    targets_table,
)
from ._http_storm import http_storm
from ._stdio_storm import stdio_storm

NAME = "streams"
# The arguments of one call made before the storm (its run is not counted).
WARM_UP = {"url": "https://bench.example.com/?tf_scenario=success", "goal": "Warm-up"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# What a run looks like per transport: (calls, steps, step delay s, heartbeat s, max wait s, RSS target MB).
DEFAULTS: dict[str, tuple[int, int, float, float, float, float]] = {
    "stdio": (10_000, 36, 10.0, 15.0, 1200.0, 1024.0),
    "http": (1_000, 10, 0.5, 0.5, 240.0, 500.0),
}
QUICK: dict[str, tuple[int, int, float, float, float, float]] = {
    "stdio": (200, 4, 1.0, 2.0, 90.0, 1024.0),
    "http": (20, 4, 0.5, 0.5, 60.0, 500.0),
}


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


async def _watch_emulator(base_url: str, stop: asyncio.Event, seen: list[tuple[float, int]]) -> None:
    """The emulator's open ``/run-sse`` streams, once a second, while the storm runs."""
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError, ValueError):
                reply = await client.get("/_emulator/streams")
                seen.append((round(time.perf_counter() - started, 1), int(reply.json()["open"])))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


async def _with_watch(base_url: str, storm: Any) -> tuple[dict[str, Any], list[tuple[float, int]]]:
    stop = asyncio.Event()
    seen: list[tuple[float, int]] = []
    watcher = asyncio.create_task(_watch_emulator(base_url, stop, seen))
    try:
        got: dict[str, Any] = await storm
    finally:
        stop.set()
        await watcher
    return got, seen


def _storm(
    transport: str, emu_url: str, *, calls: int, arguments: Any, max_seconds: float, quick: bool
) -> tuple[dict[str, Any], list[tuple[float, int]]]:
    idle_probe = 1.0 if quick else 2.0
    if transport == "stdio":
        storm = stdio_storm(
            ours_stdio_argv(),
            server_env(emu_url),
            calls=calls,
            arguments=arguments,
            max_seconds=max_seconds,
            idle_probe=idle_probe,
            warm_up=WARM_UP,
        )
        return asyncio.run(_with_watch(emu_url, storm))
    with http_server(emu_url, auth="none") as server:
        # One call first, alone, so the idle RSS includes what a call imports and builds.
        warm = rpc_message("warm-up", "tools/call", {"name": "run_web_automation", "arguments": WARM_UP})
        httpx.post(f"{server.url}/mcp", json=warm, headers=mcp_headers(), timeout=60.0).raise_for_status()
        rss_idle = rss_mb(server.pid)
        got, seen = asyncio.run(
            _with_watch(
                emu_url,
                http_storm(
                    f"{server.url}/mcp",
                    server.pid,
                    calls=calls,
                    arguments=arguments,
                    max_seconds=max_seconds,
                    idle_probe=idle_probe,
                ),
            )
        )
        got["rss_idle"] = rss_idle
        got["rss_peak"] = rss_mb(server.pid, peak=True)
        got["rss_after"] = rss_mb(server.pid)
    return got, seen


def run(
    *,
    quick: bool = False,
    transport: str = "stdio",
    calls: int | None = None,
    steps: int | None = None,
    step_delay: float | None = None,
    heartbeat: float | None = None,
) -> dict[str, Any]:
    machine = machine_info()
    d_calls, d_steps, d_delay, d_heartbeat, max_seconds, rss_target = (QUICK if quick else DEFAULTS)[
        transport
    ]
    calls = calls or d_calls
    steps = steps or d_steps
    step_delay = step_delay if step_delay is not None else d_delay
    heartbeat = heartbeat if heartbeat is not None else d_heartbeat
    run_url = f"https://bench.example.com/?tf_scenario=slow&tf_steps={steps}&tf_step_delay={step_delay:g}"
    # The call window outlasts the run, so a call that does not COMPLETE says something.
    window = int(min(600, max(60, steps * step_delay * 4)))

    def arguments(index: int) -> dict[str, Any]:
        return {"url": run_url, "goal": f"Benchmark stream {index}", "max_wait_seconds": window}

    with emulator(time_scale=0.1, heartbeat_interval=heartbeat) as emu:
        emu_rss_idle = rss_mb(emu.pid)
        httpx.post(f"{emu.url}/_emulator/reset", timeout=10.0)
        got, seen = _storm(
            transport, emu.url, calls=calls, arguments=arguments, max_seconds=max_seconds, quick=quick
        )
        streams_seen = httpx.get(f"{emu.url}/_emulator/streams", timeout=30.0).json()
        emu_rss_peak = rss_mb(emu.pid, peak=True)
        emulator_log = httpx.get(f"{emu.url}/_emulator/requests", timeout=120.0).json()
    created_upstream = sum(
        1
        for r in emulator_log
        if r.get("method") == "POST"
        and str(r.get("path", "")).endswith("/run-sse")
        and isinstance(r.get("body"), dict)
        and str(r["body"].get("goal", "")).startswith("Benchmark stream")
    )
    del emulator_log

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
    rss_idle = got["rss_idle"]
    rss_peak = got["rss_peak"]
    rss_max = max(got["rss"], default=float("nan"))
    per_stream_kb = round((rss_peak - rss_idle) * 1024.0 / calls, 1)
    idle_stats = summarize(got["idle_probe"])
    loaded_stats = summarize(got["loaded_probe"])
    # Over stdio a ping waits behind every request written before it, and runs start as
    # the server gets to them: the pings sent once every run had started measure the
    # streaming phase alone.
    all_started = max(got["first_progress"], default=float("inf"))
    sent = got.get("loaded_probe_sent") or []
    streaming_stats = summarize(
        [lag for lag, at in zip(got["loaded_probe"], sent, strict=False) if at >= all_started]
    )
    notifications = sum(got["progress"])
    per_call = got["progress"]
    start_stats = summarize(got["first_progress"], scale=1.0)
    max_open = int(streams_seen.get("max_open", 0))
    targets = [
        check("server RSS peak (VmHWM)", rss_peak, "<", rss_target, " MB"),
        check("lost runs (created upstream, run_id never returned)", lost, "==", 0),
        check("calls COMPLETED with their run_id", completed, "==", calls),
    ]
    label = "stdio, one pipe" if transport == "stdio" else "streamable HTTP, one POST each"
    tables = print_table(
        f"Concurrent streams ({label}): {calls} run_web_automation calls "
        f"({steps} steps x {step_delay:g} s, heartbeat after {heartbeat:g} s quiet)",
        [
            "calls",
            "completed",
            "other outcomes",
            "runs created upstream",
            "distinct run_ids",
            "lost",
            "most streams open at once (emulator)",
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
                lost,
                max_open,
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
        "Concurrent streams: progress notifications per call",
        ["total", "min", "p50", "max", "calls with none"],
        [
            (
                notifications,
                min(per_call, default=0),
                sorted(per_call)[len(per_call) // 2] if per_call else 0,
                max(per_call, default=0),
                sum(1 for n in per_call if n == 0),
            )
        ],
    )
    tables += print_table(
        "Concurrent streams: launch → first progress notification (run started upstream), seconds",
        ["n", "p50", "p90", "p99", "max", "run length (steps x delay)"],
        [(*(start_stats.get(k) for k in ("n", "p50", "p90", "p99", "max")), round(steps * step_delay, 2))],
    )
    tables += print_table(
        "Concurrent streams: server memory (MB) and per stream (KB)",
        [
            "RSS idle",
            "RSS max (sampled)",
            "VmHWM",
            "RSS after",
            "(VmHWM - idle) / calls, KB",
            "emulator VmHWM",
        ],
        [(rss_idle, rss_max, rss_peak, got["rss_after"], per_stream_kb, emu_rss_peak)],
    )
    probe = "ping on the same pipe" if transport == "stdio" else "tools/list on its own connection"
    tables += print_table(
        f"Event-loop lag, client-observed: {probe} every 100 ms (ms)",
        ["phase", "n", "p50", "p90", "p99", "max"],
        [
            ("idle", *(idle_stats.get(k) for k in ("n", "p50", "p90", "p99", "max"))),
            ("under load", *(loaded_stats.get(k) for k in ("n", "p50", "p90", "p99", "max"))),
            *(
                [
                    (
                        "under load, sent once every run had started",
                        *(streaming_stats.get(k) for k in ("n", "p50", "p90", "p99", "max")),
                    )
                ]
                if sent
                else []
            ),
        ],
    )
    tables += targets_table(NAME, targets)
    result = {
        "machine": machine,
        "params": {
            "transport": "stdio" if transport == "stdio" else "streamable-http",
            "calls": calls,
            "run_url": run_url,
            "heartbeat_interval_s": heartbeat,
            "max_wait_seconds": window,
            "max_seconds": max_seconds,
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
            "emulator_streams_open_max": max_open,
            "emulator_streams_open_timeline": seen,
            "emulator_rss_mb": {"idle": emu_rss_idle, "hwm": emu_rss_peak},
            "progress_notifications": notifications,
            "progress_per_call": {"min": min(per_call, default=0), "max": max(per_call, default=0)},
            "calls_without_progress": sum(1 for n in per_call if n == 0),
            "first_progress_s": start_stats,
            "wall_seconds": got["wall_seconds"],
            "server_cpu_seconds": got["server_cpu_seconds"],
            "rss_mb": {"idle": rss_idle, "max_sampled": rss_max, "hwm": rss_peak, "after": got["rss_after"]},
            "rss_per_stream_kb": per_stream_kb,
            "probe_ms": {"idle": idle_stats, "under_load": loaded_stats, "all_runs_started": streaming_stats},
            "all_runs_started_after_s": round(all_started, 1),
            **{k: got[k] for k in ("write_seconds", "unmatched_messages", "malformed_lines") if k in got},
        },
        "targets": targets,
    }
    name = NAME if transport == "stdio" else f"{NAME}_http"
    return finish(name, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument(
        "--streams", "--calls", dest="calls", type=int, help="simultaneous calls (stdio 10000, http 1000)"
    )
    parser.add_argument("--steps", type=int, help="PROGRESS steps per run (stdio 36, http 10)")
    parser.add_argument("--step-delay", type=float, help="seconds between steps (stdio 10, http 0.5)")
    parser.add_argument("--heartbeat", type=float, help="emulator HEARTBEAT after this many quiet seconds")
    args = parser.parse_args()
    run(
        quick=args.quick,
        transport=args.transport,
        calls=args.calls,
        steps=args.steps,
        step_delay=args.step_delay,
        heartbeat=args.heartbeat,
    )


if __name__ == "__main__":
    main()
