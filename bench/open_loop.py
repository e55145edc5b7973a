"""HTTP as users feel it: throughput, and latency at fixed offered rates, beside the bare SDK.

Servers, each in its own process against the emulator on loopback: the bare ``MCPServer``
with one tool (the SDK's floor), ours with one worker (auth ``none`` and ``oauth``), and ours
with two workers. For each, in the same run:

* **throughput**: C keep-alive connections calling ``get_run`` back to back for T seconds;
* **open loop**: calls sent at 250, 500 and 1,000 per second whatever the answers take,
  latency measured from when each call was due (a server that falls behind shows its queue).

The load generator is ``_rawhttp`` (pre-built request bytes, framing-only response reads);
its own CPU per call is printed beside every figure. The run writes a latency chart,
``results/open_loop.png``.

Targets: one worker >= 1.8x the bare server's calls/s, two workers >= 3x; p99 < 50 ms at
500 calls/s offered with two workers; OAuth >= 0.9x auth none.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ._common import (
    LOG_DIR,
    RESULTS_DIR,
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
    print_table,
    rpc_message,
    rpc_post,
    summarize,
    targets_table,
)
from ._oauth import oauth_access_token
from ._procs import _children
from ._rawhttp import Endpoint, LoadResult, closed_loop, open_loop

NAME = "open_loop"

SERVERS = {
    "bare": "bare MCPServer (SDK floor)",
    "one": "ours, 1 worker",
    "oauth": "ours, 1 worker, oauth",
    "two": "ours, 2 workers",
}


@dataclass
class _Server:
    key: str
    endpoint: Endpoint
    pid: int

    def cpu(self) -> float:
        """CPU seconds of the server process and its workers."""
        return sum(cpu_seconds(pid) for pid in (self.pid, *_children(self.pid)))


def _get_run_message(url: str, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    """The ``get_run`` call this server takes: its id argument is read from ``tools/list``."""

    async def ask() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30.0) as client:
            listed = await rpc_post(client, url, rpc_message(1, "tools/list"), headers)
            tool = next(t for t in listed["result"]["tools"] if t["name"] == "get_run")
            name = "id" if "id" in tool["inputSchema"].get("properties", {}) else "run_id"
            message = rpc_message(2, "tools/call", {"name": "get_run", "arguments": {name: run_id}})
            reply = await rpc_post(client, url, message, headers)
            if "error" in reply or reply["result"].get("isError") or run_id not in str(reply["result"]):
                raise BenchError(f"get_run over HTTP did not return the run: {str(reply)[:300]}")
            return message

    return asyncio.run(ask())


def _start(stack: contextlib.ExitStack, emu_url: str, run_id: str, key: str) -> _Server:
    if key == "bare":
        service = stack.enter_context(bare_http_server(emu_url))
    else:
        env = {"TINYFISH_MCP_WORKERS": "2" if key == "two" else "1"}
        if key == "oauth":
            env["TINYFISH_MCP_SECRET"] = secrets.token_urlsafe(32)
            env["TINYFISH_MCP_DATABASE_URL"] = f"sqlite+aiosqlite:///{LOG_DIR}/oauth-{time.time_ns()}.db"
        auth = "oauth" if key == "oauth" else "none"
        service = stack.enter_context(http_server(emu_url, auth=auth, extra_env=env))
    token = oauth_access_token(service.url) if key == "oauth" else None
    url = f"{service.url}/mcp"
    headers = mcp_headers(token)
    if key == "two":
        # Both workers answer (each builds its app when it starts): warm them before measuring.
        for _ in range(8):
            _get_run_message(url, headers, run_id)
    message = _get_run_message(url, headers, run_id)
    return _Server(key, Endpoint.for_call(url, message, headers), service.pid)


QUIET_CPU_SHARE = 0.05  # of one core, summed over every process of the run
QUIET_WAIT_SECONDS = 90.0


def _quiesce(pids: list[int]) -> float:
    """Wait until the servers and the emulator are idle; how long it took.

    A server that fell behind (the bare one at 500 calls/s) goes on answering its queue after
    its pass ends; measuring the next server meanwhile would charge it that CPU.
    """
    began = time.monotonic()
    while time.monotonic() - began < QUIET_WAIT_SECONDS:
        everyone = [p for pid in pids for p in (pid, *_children(pid))]
        before = sum(cpu_seconds(pid) for pid in everyone)
        time.sleep(0.5)
        if sum(cpu_seconds(pid) for pid in everyone) - before < QUIET_CPU_SHARE * 0.5:
            break
    return time.monotonic() - began


def _measure(server: _Server, load: Any, quiet: list[int]) -> tuple[LoadResult, float]:
    _quiesce(quiet)
    cpu_before = server.cpu()
    got: LoadResult = asyncio.run(load)
    return got, server.cpu() - cpu_before


def _row(label: str, got: LoadResult, server_cpu: float) -> dict[str, Any]:
    calls = len(got.latencies)
    return {
        "server": label,
        "sent": got.sent,
        "calls": calls,
        "errors": got.errors,
        "calls_per_s": round(got.calls_per_s, 1),
        "latency_ms": summarize(got.latencies),
        "server_cpu_ms_per_call": round(1000 * server_cpu / calls, 3) if calls else None,
        "generator_cpu_ms_per_call": round(got.generator_cpu_ms_per_call, 3),
    }


def _chart(
    throughput: dict[str, dict[str, Any]], rates: dict[str, dict[int, dict[str, Any]]], quick: bool
) -> str:
    """Write the latency chart; returns its path, or why it was not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "not drawn (pip install matplotlib)"
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for index, (key, by_rate) in enumerate(rates.items()):
        offered = sorted(by_rate)
        for quantile, style in (("p50", "-o"), ("p99", "--s")):
            values = [by_rate[rate]["latency_ms"].get(quantile, float("nan")) for rate in offered]
            left.plot(offered, values, style, color=f"C{index}", label=f"{SERVERS[key]} {quantile}")
    left.set_xlabel("offered calls/s (open loop)")
    left.set_ylabel("latency ms (log)")
    left.set_yscale("log")
    left.axhline(50, color="grey", linewidth=0.8)
    left.legend(fontsize=7)
    left.set_title("get_run latency at fixed offered rates")
    keys = list(throughput)
    right.bar(
        [SERVERS[k] for k in keys],
        [throughput[k]["calls_per_s"] for k in keys],
        color=[f"C{list(rates).index(k)}" if k in rates else "C0" for k in keys],
    )
    right.set_ylabel("calls/s")
    right.set_title("throughput, closed loop")
    right.tick_params(axis="x", labelsize=7, rotation=15)
    fig.tight_layout()
    path = RESULTS_DIR / ("open_loop.quick.png" if quick else "open_loop.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


def run(
    *,
    quick: bool = False,
    concurrency: int | None = None,
    seconds: float | None = None,
    rates: tuple[int, ...] | None = None,
    servers: tuple[str, ...] = tuple(SERVERS),
) -> dict[str, Any]:
    machine = machine_info()
    concurrency = concurrency or (16 if quick else 64)
    seconds = seconds or (2.0 if quick else 6.0)
    rates = rates or ((100, 200) if quick else (250, 500, 1000))
    throughput: dict[str, dict[str, Any]] = {}
    by_rate: dict[str, dict[int, dict[str, Any]]] = {key: {} for key in servers}
    with emulator() as emu, contextlib.ExitStack() as stack:
        run_id = create_run(emu.url, "https://bench.example.com/")
        started = {key: _start(stack, emu.url, run_id, key) for key in servers}
        quiet = [emu.pid, *(server.pid for server in started.values())]
        for key, server in started.items():
            got, cpu = _measure(server, closed_loop(server.endpoint, concurrency, seconds), quiet)
            throughput[key] = _row(SERVERS[key], got, cpu)
        for rate in rates:
            for key, server in started.items():
                got, cpu = _measure(server, open_loop(server.endpoint, rate, seconds), quiet)
                by_rate[key][rate] = _row(SERVERS[key], got, cpu)

    bare = throughput.get("bare", {}).get("calls_per_s") or float("nan")
    tables = print_table(
        f"Throughput: {concurrency} keep-alive connections calling get_run back to back, {seconds:g} s each",
        [
            "server",
            "calls/s",
            "x bare",
            "p50 ms",
            "p99 ms",
            "errors",
            "server CPU ms/call",
            "generator CPU ms/call",
        ],
        [
            (
                row["server"],
                row["calls_per_s"],
                round(row["calls_per_s"] / bare, 2),
                row["latency_ms"].get("p50"),
                row["latency_ms"].get("p99"),
                row["errors"],
                row["server_cpu_ms_per_call"],
                row["generator_cpu_ms_per_call"],
            )
            for row in throughput.values()
        ],
    )
    for rate in rates:
        tables += print_table(
            f"Open loop: {rate} calls/s offered for {seconds:g} s (latency from when each call was due)",
            ["server", "answered/s", "p50 ms", "p90 ms", "p99 ms", "errors", "generator CPU ms/call"],
            [
                (
                    row["server"],
                    row["calls_per_s"],
                    row["latency_ms"].get("p50"),
                    row["latency_ms"].get("p90"),
                    row["latency_ms"].get("p99"),
                    row["errors"],
                    row["generator_cpu_ms_per_call"],
                )
                for row in (by_rate[key][rate] for key in servers)
            ],
        )
    chart = _chart(throughput, by_rate, quick)
    print(f"Latency chart: {chart}", flush=True)

    targets: list[dict[str, Any]] = []
    if "bare" in throughput:
        for key, factor in (("one", 1.8), ("two", 3.0)):
            if key in throughput:
                ratio = round(throughput[key]["calls_per_s"] / bare, 2)
                targets.append(check(f"{SERVERS[key]} calls/s vs bare", ratio, ">=", factor, "x"))
    if "oauth" in throughput and "one" in throughput:
        ratio = round(throughput["oauth"]["calls_per_s"] / throughput["one"]["calls_per_s"], 2)
        targets.append(check("oauth calls/s vs auth none", ratio, ">=", 0.9, "x"))
    if "two" in by_rate and 500 in by_rate["two"]:
        p99 = by_rate["two"][500]["latency_ms"].get("p99", 1e9)
        targets.append(check("ours, 2 workers: p99 at 500 calls/s offered", p99, "<", 50.0, " ms"))
    tables += targets_table(NAME, targets)
    result = {
        "machine": machine,
        "params": {
            "concurrency": concurrency,
            "seconds": seconds,
            "rates": list(rates),
            "servers": list(servers),
        },
        "results": {"throughput": throughput, "open_loop": by_rate, "chart": chart},
        "targets": targets,
    }
    return finish(NAME, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument(
        "--concurrency", "-c", type=int, help="connections of the throughput pass (default 64)"
    )
    parser.add_argument("--seconds", "-t", type=float, help="seconds of each pass (default 6, quick 2)")
    parser.add_argument("--rates", type=int, nargs="+", help="offered calls/s (default 250 500 1000)")
    parser.add_argument("--servers", nargs="+", choices=list(SERVERS), help="servers to load (default all)")
    args = parser.parse_args()
    run(
        quick=args.quick,
        concurrency=args.concurrency,
        seconds=args.seconds,
        rates=tuple(args.rates) if args.rates else None,
        servers=tuple(args.servers) if args.servers else tuple(SERVERS),
    )


if __name__ == "__main__":
    main()
