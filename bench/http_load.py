"""HTTP load: C concurrent streamable-HTTP clients making short tool calls (``get_run``) for T seconds.

Servers, each ``python -m tinyfish_mcp http`` (stateless, the default) in its own process,
against the emulator in another, all on loopback: ours with auth ``none``; ours with auth
``oauth`` and a token obtained once through the server's own flow (``bench._oauth``); and
the SDK's floor, a bare ``MCPServer`` whose one tool makes the same GET (``bench._bare_server``).
Each client is its own ``httpx.AsyncClient`` (one connection) posting raw JSON-RPC
``tools/call`` with the streamable-HTTP headers; stateless mode needs no ``initialize``.

All servers are started first and loaded in turn, in rotating windows, so the slow drifts
of a shared machine fall on all of them alike. Reported per server: calls/s, latency
percentiles, errors, server RSS (``VmRSS``, sampled), and where the CPU goes: CPU seconds
of the server, the emulator and this load generator over the windows (they share the
machine's cores), server CPU per call, and a py-spy profile of the server taken in a
separate pass (so sampling never disturbs the measured figures).

Targets at C = 100: >= 500 calls/s, p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from . import _profile
from ._common import (
    LOG_DIR,
    BenchError,
    bare_http_server,
    check,
    cpu_seconds,
    create_run,
    emulator,
    finish,
    http_server,
    machine_info,
    make_parser,
    mcp_headers,
    own_cpu_seconds,
    print_table,
    rpc_message,
    rpc_post,
    rss_mb,
    summarize,
    targets_table,
)
from ._oauth import oauth_access_token

NAME = "http_load"


async def _load(
    url: str,
    headers: dict[str, str],
    run_id: str,
    *,
    concurrency: int,
    warmup: float,
    seconds: float,
    pids: dict[str, int],
    profile_out: Any = None,
) -> dict[str, Any]:
    """Run the load; only calls started inside the window (after the warm-up) are counted."""
    loop_start = time.perf_counter()
    window_start = loop_start + warmup
    window_end = window_start + seconds
    latencies: list[float] = []
    errors: list[str] = []
    rss: list[float] = []
    cpu: dict[str, dict[str, float]] = {}
    profiler: Any = None

    async def worker(number: int) -> None:
        async with httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_connections=1)) as client:
            sequence = 0
            while True:
                started = time.perf_counter()
                if started >= window_end:
                    return
                sequence += 1
                message = rpc_message(
                    f"{number}-{sequence}", "tools/call", {"name": "get_run", "arguments": {"id": run_id}}
                )
                failure = None
                try:
                    reply = await rpc_post(client, url, message, headers)
                    if "error" in reply:
                        failure = str(reply["error"])[:200]
                    elif reply["result"].get("isError"):
                        failure = str(reply["result"].get("content"))[:200]
                except (httpx.HTTPError, BenchError) as exc:
                    failure = repr(exc)[:200]
                if started >= window_start:
                    if failure is None:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors.append(failure)

    def snapshot() -> dict[str, float]:
        figures = {name: cpu_seconds(pid) for name, pid in pids.items()}
        figures["load generator"] = own_cpu_seconds()
        return figures

    async def sampler() -> None:
        nonlocal profiler
        await asyncio.sleep(max(window_start - time.perf_counter(), 0))
        cpu["start"] = snapshot()
        if profile_out is not None:
            profiler = _profile.start_sampling(pids["server"], seconds, profile_out)
        while time.perf_counter() < window_end:
            rss.append(rss_mb(pids["server"]))
            await asyncio.sleep(0.25)
        cpu["end"] = snapshot()

    await asyncio.gather(sampler(), *(worker(n) for n in range(concurrency)))
    used = {name: cpu["end"][name] - cpu["start"][name] for name in cpu["start"]}
    return {
        "latencies": latencies,
        "errors": errors,
        "rss_max_mb": max(rss, default=float("nan")),
        "cpu_seconds": {k: round(v, 2) for k, v in used.items()},
        "profiler": profiler,
    }


def _first_call(url: str, headers: dict[str, str], run_id: str) -> None:
    """One call before the load: the server answers ``get_run`` with the run, or we stop here."""

    async def call() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30.0) as client:
            message = rpc_message(1, "tools/call", {"name": "get_run", "arguments": {"id": run_id}})
            return await rpc_post(client, url, message, headers)

    reply = asyncio.run(call())
    if "error" in reply or reply["result"].get("isError") or run_id not in str(reply["result"]):
        raise BenchError(f"get_run over HTTP did not return the run: {str(reply)[:300]}")


def _label(mode: str) -> str:
    return "bare MCPServer (SDK floor)" if mode == "bare" else f"ours, auth {mode}"


def _mode_env(mode: str) -> dict[str, str]:
    if mode != "oauth":
        return {}
    return {
        "TINYFISH_MCP_SECRET": secrets.token_urlsafe(32),
        "TINYFISH_MCP_DATABASE_URL": f"sqlite+aiosqlite:///{LOG_DIR}/oauth-{time.time_ns()}.db",
    }


@dataclass
class _Server:
    mode: str
    url: str
    headers: dict[str, str]
    pid: int
    rss_idle_mb: float


def _start(stack: contextlib.ExitStack, emu_url: str, run_id: str, mode: str) -> _Server:
    """Start one server under test (in ``stack``), get a token if it needs one, check one call."""
    context = (
        bare_http_server(emu_url)
        if mode == "bare"
        else http_server(emu_url, auth=mode, extra_env=_mode_env(mode))
    )
    server = stack.enter_context(context)
    token = oauth_access_token(server.url) if mode == "oauth" else None
    url = f"{server.url}/mcp"
    headers = mcp_headers(token)
    _first_call(url, headers, run_id)
    return _Server(mode, url, headers, server.pid, rss_mb(server.pid))


def _profile_pass(
    server: _Server, emu_pid: int, run_id: str, concurrency: int, warmup: float
) -> dict[str, Any]:
    """A separate pass with py-spy attached: its figures are not reported as the load's."""
    out = LOG_DIR / f"http_load-{server.mode}-{time.time_ns()}.txt"
    seconds = 8.0
    pids = {"server": server.pid, "emulator": emu_pid}
    profiled = asyncio.run(
        _load(
            server.url,
            server.headers,
            run_id,
            concurrency=concurrency,
            warmup=warmup,
            seconds=seconds,
            pids=pids,
            profile_out=out,
        )
    )
    summary = _profile.finish_sampling(profiled["profiler"], out)
    summary["calls_per_s_while_profiled"] = round(len(profiled["latencies"]) / seconds, 1)
    return summary


def run(
    *,
    quick: bool = False,
    concurrency: int | None = None,
    seconds: float | None = None,
    modes: tuple[str, ...] = ("none", "oauth", "bare"),
    profile: bool | None = None,
    rounds: int | None = None,
) -> dict[str, Any]:
    """Start every server first, then load them in turn, ``rounds`` windows each, the order
    rotating each round, so slow drifts of a shared machine fall on all of them alike."""
    machine = machine_info()
    concurrency = concurrency or (10 if quick else 100)
    seconds = seconds or (2.0 if quick else 15.0)
    rounds = rounds or (1 if quick else 3)
    warmup = 0.5 if quick else 2.0
    profile = (not quick) if profile is None else profile
    failures: dict[str, str] = {}
    window = seconds / rounds
    acc: dict[str, dict[str, Any]] = {}
    with emulator() as emu, contextlib.ExitStack() as stack:
        run_id = create_run(emu.url, "https://bench.example.com/")
        servers: dict[str, _Server] = {}
        for mode in modes:
            try:
                servers[mode] = _start(stack, emu.url, run_id, mode)
            except BenchError as exc:
                failures[mode] = str(exc)[:2000]
                print(f"http_load: {_label(mode)} could not run: {str(exc)[:500]}", flush=True)
        for mode in servers:
            acc[mode] = {"latencies": [], "errors": [], "rss": [], "cpu": {}}
        for index in range(rounds):
            names = list(servers)
            for mode in names[index % len(names) :] + names[: index % len(names)] if names else []:
                server = servers[mode]
                got = asyncio.run(
                    _load(
                        server.url,
                        server.headers,
                        run_id,
                        concurrency=concurrency,
                        warmup=warmup,
                        seconds=window,
                        pids={"server": server.pid, "emulator": emu.pid},
                    )
                )
                acc[mode]["latencies"].extend(got["latencies"])
                acc[mode]["errors"].extend(got["errors"])
                acc[mode]["rss"].append(got["rss_max_mb"])
                for name, used in got["cpu_seconds"].items():
                    acc[mode]["cpu"][name] = acc[mode]["cpu"].get(name, 0.0) + used
        profiles = {
            mode: _profile_pass(server, emu.pid, run_id, concurrency, warmup) if profile else {}
            for mode, server in servers.items()
        }
        hwm = {mode: rss_mb(server.pid, peak=True) for mode, server in servers.items()}

    per_mode: list[dict[str, Any]] = []
    for mode, got in acc.items():
        calls = len(got["latencies"])
        cpu = {k: round(v, 2) for k, v in got["cpu"].items()}
        per_mode.append(
            {
                "mode": mode,
                "concurrency": concurrency,
                "seconds": seconds,
                "rounds": rounds,
                "calls": calls,
                "errors": len(got["errors"]),
                "first_errors": got["errors"][:3],
                "calls_per_s": round(calls / seconds, 1),
                "latency_ms": summarize(got["latencies"]),
                "rss_idle_mb": servers[mode].rss_idle_mb,
                "rss_max_mb": max(got["rss"], default=float("nan")),
                "rss_peak_hwm_mb": hwm[mode],
                "cpu_seconds": cpu,
                "cpu_pct": {k: round(100 * v / seconds, 1) for k, v in cpu.items()},
                "server_cpu_ms_per_call": round(1000 * cpu["server"] / calls, 3) if calls else None,
                "profile": profiles.get(mode, {}),
            }
        )

    targets: list[dict[str, Any]] = []
    for item in per_mode:
        if item["mode"] == "bare":
            continue  # the SDK's floor, for comparison: not a target
        targets.append(
            check(f"[{item['mode']}] calls/s at C={concurrency}", item["calls_per_s"], ">=", 500.0)
        )
        targets.append(
            check(
                f"[{item['mode']}] p99 at C={concurrency}",
                item["latency_ms"].get("p99", 1e9),
                "<",
                50.0,
                " ms",
            )
        )
        targets.append(check(f"[{item['mode']}] errors", item["errors"], "==", 0))
    for mode in failures:
        targets.append({"target": f"[{mode}] ran", "value": "could not run", "met": False})

    tables = print_table(
        f"HTTP load: {concurrency} concurrent clients, get_run, {seconds:g} s per server ({rounds} windows)",
        ["server", "calls", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "RSS idle/max MB"],
        [
            (
                _label(m["mode"]),
                m["calls"],
                m["calls_per_s"],
                m["latency_ms"].get("p50"),
                m["latency_ms"].get("p90"),
                m["latency_ms"].get("p99"),
                m["latency_ms"].get("max"),
                m["errors"],
                f"{m['rss_idle_mb']}/{m['rss_max_mb']}",
            )
            for m in per_mode
        ],
    )
    tables += print_table(
        "HTTP load: where the CPU goes (percent of one core over the window; 2 cores = 200 %)",
        ["server", "server %", "emulator %", "load generator %", "server CPU ms/call"],
        [
            (
                _label(m["mode"]),
                m["cpu_pct"]["server"],
                m["cpu_pct"]["emulator"],
                m["cpu_pct"]["load generator"],
                m["server_cpu_ms_per_call"],
            )
            for m in per_mode
        ],
    )
    for m in per_mode:
        prof = m.get("profile") or {}
        if prof.get("owner_pct_by_package"):
            tables += print_table(
                f"HTTP load [{_label(m['mode'])}]: server profile (py-spy, {prof['samples']} samples, %)",
                ["package", "owner %", "self %", "inclusive %"],
                [
                    (
                        pkg,
                        pct,
                        prof["self_pct_by_package"].get(pkg, 0.0),
                        prof["inclusive_pct_by_package"].get(pkg, "-"),
                    )
                    for pkg, pct in prof["owner_pct_by_package"].items()
                ],
            )
            tables += print_table(
                f"HTTP load [{_label(m['mode'])}]: hottest functions (self %)",
                ["function", "self %"],
                list(prof["self_pct_by_function"].items())[:10],
            )
    tables += targets_table(NAME, targets)
    result = {
        "machine": machine,
        "params": {
            "concurrency": concurrency,
            "seconds": seconds,
            "rounds": rounds,
            "warmup_per_window": warmup,
            "modes": list(modes),
        },
        "results": {"modes": per_mode, "failures": failures},
        "targets": targets,
    }
    return finish(NAME, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--concurrency", "-c", type=int, help="concurrent clients (default 100, quick 10)")
    parser.add_argument("--seconds", "-t", type=float, help="measured seconds per mode (default 15, quick 2)")
    parser.add_argument("--rounds", type=int, help="rotating windows the seconds are split into (default 3)")
    parser.add_argument(
        "--auth",
        choices=["none", "oauth", "bare", "all"],
        default="all",
        help="server(s) to load: ours with auth none / oauth, the bare MCPServer floor, or all (default)",
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="py-spy pass (default: full runs)",
    )
    args = parser.parse_args()
    modes = ("none", "oauth", "bare") if args.auth == "all" else (args.auth,)
    run(
        quick=args.quick,
        concurrency=args.concurrency,
        seconds=args.seconds,
        modes=modes,
        profile=args.profile,
        rounds=args.rounds,
    )


if __name__ == "__main__":
    main()
