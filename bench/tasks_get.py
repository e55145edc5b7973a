"""``tasks/get`` latency over streamable HTTP, beside a direct upstream GET and the bare SDK's call.

An MCP Tasks client polls ``tasks/get`` for as long as the work runs, so its cost per poll
matters. Our task ids are sealed, not stored: each ``tasks/get`` opens the id (AES-GCM, key
from ``TINYFISH_MCP_SECRET``), checks the owner and reads TinyFish once (``GET
/v1/runs/{id}``). Four arms, one call at a time, interleaved in blocks (the order rotates each
block), against one emulator, all at protocol 2026-07-28 except the direct GET:

- ``tasks/get``: ours (``tinyfish-mcp http``, auth none, stateless), on a completed run's task,
  so every answer carries the run's full result, as ``get_run`` does;
- ``ours get_run``: the same server's ``tools/call get_run`` on the same run;
- ``bare get_run``: the bare ``MCPServer`` (``_bare_server.py``): its one tool makes the same
  GET, the SDK's floor for a call that reads the run over HTTP;
- ``direct``: the ``GET /v1/runs/{id}`` itself with a keep-alive ``httpx.Client``.

No target: the figures are for the performance guide. Each client is a keep-alive
``httpx.Client`` posting raw JSON-RPC with the streamable-HTTP headers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from ._common import (
    API_KEY,
    BenchError,
    bare_http_server,
    emulator,
    finish,
    http_server,
    machine_info,
    make_parser,
    percentile,
    print_table,
    summarize,
)
from ._rpc import parse_rpc_body

NAME = "tasks_get"
ARMS = ("tasks/get", "ours get_run", "bare get_run", "direct")
MODERN = "2026-07-28"
TASKS = "io.modelcontextprotocol/tasks"


def _meta(tasks: bool) -> dict[str, Any]:
    extensions = {TASKS: {}} if tasks else {}
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "tinyfish-bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"extensions": extensions},
    }


class _Poster:
    """Raw JSON-RPC at 2026-07-28 over one keep-alive connection to a server's ``/mcp``."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.client = httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=1))
        self.headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN,
        }
        self._next = 0

    def call(self, method: str, params: dict[str, Any], *, tasks: bool = False) -> dict[str, Any]:
        self._next += 1
        params = {**params, "_meta": _meta(tasks)}
        message = {"jsonrpc": "2.0", "id": self._next, "method": method, "params": params}
        # 2026-07-28 over HTTP mirrors the method (and a tool's name) in headers.
        headers = {**self.headers, "Mcp-Method": method}
        if method == "tools/call":
            headers["Mcp-Name"] = str(params["name"])
        reply = self.client.post(self.url, json=message, headers=headers)
        if reply.status_code != 200:
            raise BenchError(f"{self.name}: {method}: HTTP {reply.status_code}: {reply.text[:300]}")
        answer = parse_rpc_body(reply.headers.get("content-type", ""), reply.text, self._next)
        if "error" in answer:
            raise BenchError(f"{self.name}: {method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        if result.get("isError"):
            raise BenchError(f"{self.name}: {method}: {str(result.get('content'))[:300]}")
        return result

    def close(self) -> None:
        self.client.close()


def _task_of_a_completed_run(ours: _Poster, deadline_s: float = 30.0) -> tuple[str, str]:
    """A task made the way a Tasks client makes one, polled until its run completed."""
    arguments = {"url": "https://bench.example.com/", "goal": "Benchmark run"}
    created = ours.call("tools/call", {"name": "run_web_automation", "arguments": arguments}, tasks=True)
    if created.get("resultType") != "task":
        raise BenchError(f"run_web_automation did not make a task: {str(created)[:300]}")
    task_id = str(created["taskId"])
    deadline = time.monotonic() + deadline_s
    while True:
        got = ours.call("tasks/get", {"taskId": task_id}, tasks=True)
        if got["status"] == "completed":
            return task_id, str(got["result"]["structuredContent"]["run_id"])
        if got["status"] != "working" or time.monotonic() > deadline:
            raise BenchError(f"the task did not complete: {str(got)[:300]}")
        time.sleep(0.05)


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run(*, quick: bool = False, calls: int | None = None, block: int = 50) -> dict[str, Any]:
    machine = machine_info()
    calls = calls or (100 if quick else 1000)
    warmup = 10 if quick else 50
    max_seconds = 30.0 if quick else 120.0
    samples: dict[str, list[float]] = {arm: [] for arm in ARMS}
    # auth none, stateless; the secret seals task ids as a hosted deployment's does.
    env = {"TINYFISH_MCP_SECRET": secrets.token_urlsafe(32)}
    with (
        emulator(time_scale=0.01) as emu,
        http_server(emu.url, auth="none", extra_env=env) as server,
        bare_http_server(emu.url) as bare_server,
        httpx.Client(base_url=emu.url, headers={"X-API-Key": API_KEY}, timeout=30.0) as direct,
    ):
        ours = _Poster("ours", f"{server.url}/mcp")
        bare = _Poster("bare", f"{bare_server.url}/mcp")
        try:
            task_id, run_id = _task_of_a_completed_run(ours)

            def direct_get() -> None:
                reply = direct.get(f"/v1/runs/{run_id}")
                if reply.status_code != 200:
                    raise BenchError(f"direct GET: {reply.status_code} {reply.text[:200]}")

            get_run = {"name": "get_run", "arguments": {"id": run_id}}
            call: dict[str, Callable[[], object]] = {
                "tasks/get": lambda: ours.call("tasks/get", {"taskId": task_id}, tasks=True),
                "ours get_run": lambda: ours.call("tools/call", get_run),
                "bare get_run": lambda: bare.call("tools/call", get_run),
                "direct": direct_get,
            }
            for arm in ARMS:
                for _ in range(warmup):
                    call[arm]()
            deadline = time.monotonic() + max_seconds
            blocks = 0
            while len(samples[ARMS[0]]) < calls and time.monotonic() < deadline:
                size = min(block, calls - len(samples[ARMS[0]]))
                shift = blocks % len(ARMS)
                for arm in ARMS[shift:] + ARMS[:shift]:
                    samples[arm].extend(_timed(call[arm]) for _ in range(size))
                blocks += 1
        finally:
            ours.close()
            bare.close()

    raw = {arm: summarize(samples[arm]) for arm in ARMS}

    def gap(a: str, b: str, q: float) -> float:
        return round((percentile(samples[a], q) - percentile(samples[b], q)) * 1000, 3)

    comparisons = [
        ("tasks/get", "direct", "all of it: HTTP, the SDK, opening the id, the result"),
        ("tasks/get", "bare get_run", "ours over the SDK's floor for the same GET"),
        ("tasks/get", "ours get_run", "a task poll vs our own tool call"),
        ("bare get_run", "direct", "the SDK's floor (streamable HTTP + dispatch)"),
    ]
    gaps = {f"{a} - {b}": {"p50": gap(a, b, 50), "p99": gap(a, b, 99)} for a, b, _ in comparisons}
    tables = print_table(
        "tasks/get over streamable HTTP at 2026-07-28, one call at a time (ms)",
        ["arm", "n", "min", "p50", "p90", "p99", "max", "mean"],
        [(arm, *(raw[arm].get(k) for k in ("n", "min", "p50", "p90", "p99", "max", "mean"))) for arm in ARMS],
    )
    tables += print_table(
        "Differences of percentiles (ms)",
        ["comparison", "Δp50", "Δp99", "what it is"],
        [(f"{a} - {b}", *gaps[f"{a} - {b}"].values(), what) for a, b, what in comparisons],
    )
    result = {
        "machine": machine,
        "params": {"calls_per_arm": calls, "block": block, "warmup_per_arm": warmup, "protocol": MODERN},
        "results": {"raw_ms": raw, "percentile_gap_ms": gaps},
        "targets": [],
    }
    return finish(NAME, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--calls", type=int, help="calls per arm (default 1000, quick 100)")
    args = parser.parse_args()
    run(quick=args.quick, calls=args.calls)


if __name__ == "__main__":
    main()
