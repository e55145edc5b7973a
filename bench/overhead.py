"""Per-call overhead: ``get_run`` through our stdio server vs the same ``GET /v1/runs/{id}`` direct.

Three arms, interleaved in blocks (the order rotates each block) against one emulator:
- ``ours``: one long-lived ``python -m tinyfish_mcp``, raw JSON-RPC ``tools/call get_run``;
- ``bare``: one long-lived bare ``MCPServer`` whose one tool makes the same GET with httpx
  (the SDK's floor for a tool call that makes that request);
- ``direct``: the GET itself from this process with a keep-alive ``httpx.Client``.

Reported: both raw distributions, the overhead as the difference of percentiles
(p50(ours) - p50(direct), p99(ours) - p99(direct)), and the distribution of paired differences
(i-th call of ours minus i-th call of direct in the same block). ``ours - bare`` is the part
that is our code; ``bare - direct`` is the SDK's floor.

Targets: overhead <= 1 ms at p50 and <= 5 ms at p99.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from . import _profile
from ._common import (
    API_KEY,
    LOG_DIR,
    BenchError,
    StdioPeer,
    bare_stdio_argv,
    check,
    create_run,
    emulator,
    finish,
    machine_info,
    make_parser,
    ours_stdio_argv,
    percentile,
    print_table,
    server_env,
    summarize,
    targets_table,
    tool_text,
)

NAME = "overhead"
ARMS = ("ours", "bare", "direct")


def _tool_call(peer: StdioPeer, run_id: str) -> float:
    started = time.perf_counter()
    reply = peer.request("tools/call", {"name": "get_run", "arguments": {"id": run_id}}, timeout=30.0)
    elapsed = time.perf_counter() - started
    if "error" in reply or reply["result"].get("isError"):
        raise BenchError(f"{peer.name}: get_run failed: {reply.get('error') or tool_text(reply['result'])}")
    return elapsed


def _direct_call(client: httpx.Client, run_id: str) -> float:
    started = time.perf_counter()
    reply = client.get(f"/v1/runs/{run_id}")
    reply.read()
    elapsed = time.perf_counter() - started
    if reply.status_code != 200:
        raise BenchError(f"direct GET failed: {reply.status_code} {reply.text[:200]}")
    return elapsed


def _profile_arms(call: dict[str, Any], pids: dict[str, int], seconds: float) -> dict[str, Any]:
    """A py-spy pass on each stdio server while it answers calls back to back (not measured)."""
    if _profile.py_spy() is None:
        return {}
    found: dict[str, Any] = {}
    for arm, pid in pids.items():
        out = LOG_DIR / f"overhead-{arm}-{time.time_ns()}.txt"
        proc = _profile.start_sampling(pid, seconds, out)
        time.sleep(0.3)  # let py-spy attach
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            call[arm]()
        found[arm] = _profile.finish_sampling(proc, out)
    return found


def _paired(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=False)]


def run(*, quick: bool = False, calls: int | None = None, block: int = 50) -> dict[str, Any]:
    machine = machine_info()
    calls = calls or (150 if quick else 2000)
    warmup = 20 if quick else 100
    max_seconds = 60.0 if quick else 240.0
    samples: dict[str, list[float]] = {arm: [] for arm in ARMS}
    pairs: dict[str, list[float]] = {"ours-direct": [], "bare-direct": [], "ours-bare": []}
    with emulator() as emu:
        run_id = create_run(emu.url, "https://bench.example.com/")
        env = server_env(emu.url)
        with (
            StdioPeer(ours_stdio_argv(), env, name="ours") as ours,
            StdioPeer(bare_stdio_argv(), env, name="bare") as bare,
            httpx.Client(base_url=emu.url, headers={"X-API-Key": API_KEY}, timeout=30.0) as client,
        ):
            ours.handshake()
            bare.handshake()
            first = ours.call_tool("get_run", {"id": run_id})
            if first.get("isError") or run_id not in (tool_text(first) + str(first.get("structuredContent"))):
                raise BenchError(f"ours: get_run did not return the run: {tool_text(first)[:300]}")
            call = {
                "ours": lambda: _tool_call(ours, run_id),
                "bare": lambda: _tool_call(bare, run_id),
                "direct": lambda: _direct_call(client, run_id),
            }
            for arm in ARMS:
                for _ in range(warmup):
                    call[arm]()
            deadline = time.monotonic() + max_seconds
            blocks = 0
            while len(samples["ours"]) < calls and time.monotonic() < deadline:
                size = min(block, calls - len(samples["ours"]))
                order = ARMS[blocks % 3 :] + ARMS[: blocks % 3]
                got = {arm: [call[arm]() for _ in range(size)] for arm in order}
                for arm in ARMS:
                    samples[arm].extend(got[arm])
                pairs["ours-direct"].extend(_paired(got["ours"], got["direct"]))
                pairs["bare-direct"].extend(_paired(got["bare"], got["direct"]))
                pairs["ours-bare"].extend(_paired(got["ours"], got["bare"]))
                blocks += 1
            profiles = _profile_arms(
                call, {"ours": ours.proc.pid, "bare": bare.proc.pid}, 3.0 if quick else 5.0
            )

    raw = {arm: summarize(samples[arm]) for arm in ARMS}
    paired = {name: summarize(values) for name, values in pairs.items()}

    def quantile_gap(a: str, b: str, q: float) -> float:
        return round((percentile(samples[a], q) - percentile(samples[b], q)) * 1000, 3)

    gaps = {
        f"{a}-{b}": {"p50": quantile_gap(a, b, 50), "p99": quantile_gap(a, b, 99)}
        for a, b in (("ours", "direct"), ("bare", "direct"), ("ours", "bare"))
    }
    targets = [
        check("overhead p50 (p50 ours - p50 direct)", gaps["ours-direct"]["p50"], "<=", 1.0, " ms"),
        check("overhead p99 (p99 ours - p99 direct)", gaps["ours-direct"]["p99"], "<=", 5.0, " ms"),
        check("paired difference p50", paired["ours-direct"]["p50"], "<=", 1.0, " ms"),
        check("paired difference p99", paired["ours-direct"]["p99"], "<=", 5.0, " ms"),
    ]
    tables = print_table(
        "Per-call latency, raw distributions (ms)",
        ["arm", "n", "min", "p50", "p90", "p99", "max", "mean"],
        [(arm, *(raw[arm][k] for k in ("n", "min", "p50", "p90", "p99", "max", "mean"))) for arm in ARMS],
    )
    tables += print_table(
        "Overhead (ms): difference of percentiles, and percentiles of paired differences",
        ["comparison", "Δp50", "Δp99", "paired p50", "paired p99", "what it is"],
        [
            ("ours - direct", gaps["ours-direct"]["p50"], gaps["ours-direct"]["p99"],
             paired["ours-direct"]["p50"], paired["ours-direct"]["p99"], "total overhead of our server"),
            ("bare - direct", gaps["bare-direct"]["p50"], gaps["bare-direct"]["p99"],
             paired["bare-direct"]["p50"], paired["bare-direct"]["p99"], "SDK floor (stdio + dispatch)"),
            ("ours - bare", gaps["ours-bare"]["p50"], gaps["ours-bare"]["p99"],
             paired["ours-bare"]["p50"], paired["ours-bare"]["p99"], "our own code"),
        ],
    )  # fmt: skip
    owners = {arm: (profiles.get(arm) or {}).get("owner_pct_by_package") or {} for arm in ("ours", "bare")}
    if owners["ours"]:
        packages = list(dict.fromkeys([*owners["ours"], *owners["bare"]]))[:12]
        tables += print_table(
            "Where each stdio server's CPU goes during calls (py-spy, % of samples by owning package)",
            ["package", "ours %", "bare %"],
            [(pkg, owners["ours"].get(pkg, 0.0), owners["bare"].get(pkg, 0.0)) for pkg in packages],
        )
    tables += targets_table(NAME, targets)
    result = {
        "machine": machine,
        "params": {"calls_per_arm": calls, "block": block, "warmup_per_arm": warmup},
        "results": {
            "raw_ms": raw,
            "percentile_gap_ms": gaps,
            "paired_difference_ms": paired,
            "profiles": profiles,
        },
        "targets": targets,
    }
    return finish(NAME, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--calls", type=int, help="calls per arm (default 2000, quick 150)")
    args = parser.parse_args()
    run(quick=args.quick, calls=args.calls)


if __name__ == "__main__":
    main()
