"""Cold start: spawn the stdio server, ``initialize``, ``tools/list`` answered.

Ours (``python -m tinyfish_mcp``) against the floor (``python -m bench._bare_server``, a bare
``MCPServer`` with one tool on the same ``mcp``), interleaved in ABBA order in the same run,
spoken to with raw JSON-RPC lines so no client library adds time. Then one ``-X importtime``
profile of each (a few repetitions, minimum per module) to say where ours spends its start:
modules only ours imports, grouped by top-level package, and our own modules.

Targets: median(ours) <= median(bare) + 40 ms, and <= 1.10 x median(bare). Beside the wall
time, each start's CPU time up to the ``tools/list`` answer is reported (every thread's
``/proc/<pid>/task/*/schedstat``, Linux only): on a machine shared with other work it moves
far less than the wall time does.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ._common import (
    StdioPeer,
    bare_stdio_argv,
    check,
    emulator,
    finish,
    machine_info,
    make_parser,
    ours_stdio_argv,
    print_table,
    server_env,
    summarize,
    targets_table,
)

NAME = "coldstart"
TARGET_RATIO = 1.10
TARGET_EXTRA_MS = 40.0
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)\s*$")


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of a live process so far (nanoseconds in ``schedstat``), or NaN."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return total / 1e9


def _one_start(argv: list[str], env: dict[str, str], name: str) -> dict[str, Any]:
    """Spawn, handshake, list tools; the clock stops when ``tools/list`` is answered."""
    started = time.perf_counter()
    with StdioPeer(argv, env, name=name) as peer:
        peer.handshake(timeout=60.0)
        initialized = time.perf_counter()
        reply = peer.request("tools/list", {}, timeout=60.0)
        listed = time.perf_counter()
        cpu = _cpu_seconds(peer.proc.pid)
    if "error" in reply:
        raise RuntimeError(f"{name}: tools/list failed: {reply['error']}")
    tools = reply["result"]["tools"]
    return {
        "total": listed - started,
        "cpu": cpu,
        "initialize": initialized - started,
        "tools_list": listed - initialized,
        "tools": len(tools),
    }


def _importtime(argv: list[str], env: dict[str, str], name: str) -> dict[str, dict[str, float]]:
    """Per-module self and cumulative import time (µs) of one start, from ``-X importtime``."""
    with StdioPeer(argv, env, name=name) as peer:
        peer.handshake(timeout=60.0)
        peer.request("tools/list", {}, timeout=60.0)
    modules: dict[str, dict[str, float]] = {}
    depth_of: dict[str, int] = {}
    for line in peer.log.read_text(errors="replace").splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            module = match.group(4)
            modules[module] = {"self": float(match.group(1)), "cumulative": float(match.group(2))}
            depth_of[module] = len(match.group(3))
    top = min(depth_of.values(), default=0)
    for module, depth in depth_of.items():
        modules[module]["top"] = float(depth == top)
    return modules


def _min_profile(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The minimum of each module's figures over repetitions: the least-disturbed sample."""
    merged: dict[str, dict[str, float]] = {}
    for profile in runs:
        for module, figures in profile.items():
            if module not in merged:
                merged[module] = dict(figures)
            else:
                merged[module]["self"] = min(merged[module]["self"], figures["self"])
                merged[module]["cumulative"] = min(merged[module]["cumulative"], figures["cumulative"])
    return merged


def _import_report(ours: dict[str, dict[str, float]], bare: dict[str, dict[str, float]]) -> dict[str, Any]:
    only_ours = {m: f for m, f in ours.items() if m not in bare}
    by_package: dict[str, float] = defaultdict(float)
    for module, figures in only_ours.items():
        by_package[module.split(".")[0]] += figures["self"]
    own = {m: f for m, f in ours.items() if m == "tinyfish_mcp" or m.startswith("tinyfish_mcp.")}
    return {
        "total_self_ms": {
            "ours": round(sum(f["self"] for f in ours.values()) / 1000, 1),
            "bare": round(sum(f["self"] for f in bare.values()) / 1000, 1),
            "only_ours": round(sum(f["self"] for f in only_ours.values()) / 1000, 1),
        },
        "modules": {"ours": len(ours), "bare": len(bare), "only_ours": len(only_ours)},
        "only_ours_by_package_ms": dict(
            sorted(((k, round(v / 1000, 1)) for k, v in by_package.items()), key=lambda kv: -kv[1])
        ),
        "own_modules_self_ms": dict(
            sorted(((m, round(f["self"] / 1000, 1)) for m, f in own.items()), key=lambda kv: -kv[1])[:15]
        ),
        "own_modules_cumulative_ms": dict(
            sorted(((m, round(f["cumulative"] / 1000, 1)) for m, f in own.items()), key=lambda kv: -kv[1])[
                :15
            ]
        ),
        "ours_top_level_cumulative_ms": dict(
            sorted(
                ((m, round(f["cumulative"] / 1000, 1)) for m, f in ours.items() if f.get("top")),
                key=lambda kv: -kv[1],
            )[:10]
        ),
        "bare_top_level_cumulative_ms": dict(
            sorted(
                ((m, round(f["cumulative"] / 1000, 1)) for m, f in bare.items() if f.get("top")),
                key=lambda kv: -kv[1],
            )[:10]
        ),
    }


def run(*, quick: bool = False, runs: int | None = None, profiles: int | None = None) -> dict[str, Any]:
    machine = machine_info()
    runs = runs or (3 if quick else 20)
    profiles = profiles or (1 if quick else 3)
    samples: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    with emulator() as emu:
        env = server_env(emu.url)
        argv = {"ours": ours_stdio_argv(), "bare": bare_stdio_argv()}
        for side in ("ours", "bare"):  # warm the bytecode caches; not measured
            _one_start(argv[side], env, side)
        deadline = time.monotonic() + (60 if quick else 240)
        for i in range(runs):
            order = ("ours", "bare") if i % 2 == 0 else ("bare", "ours")
            for side in order:
                samples[side].append(_one_start(argv[side], env, side))
            if time.monotonic() > deadline:
                break
        profile = {
            side: _min_profile(
                [_importtime(argv_fn("-X", "importtime"), env, f"{side}-importtime") for _ in range(profiles)]
            )
            for side, argv_fn in (("ours", ours_stdio_argv), ("bare", bare_stdio_argv))
        }

    stats = {side: summarize([s["total"] for s in samples[side]]) for side in samples}
    cpu = {side: summarize([s["cpu"] for s in samples[side]]) for side in samples}
    phases = {
        side: {
            "initialize_ms": summarize([s["initialize"] for s in samples[side]]),
            "tools_list_ms": summarize([s["tools_list"] for s in samples[side]]),
        }
        for side in samples
    }
    ratio = statistics.median(s["total"] for s in samples["ours"]) / statistics.median(
        s["total"] for s in samples["bare"]
    )
    min_ratio = min(s["total"] for s in samples["ours"]) / min(s["total"] for s in samples["bare"])
    extra_ms = stats["ours"]["p50"] - stats["bare"]["p50"]
    extra_cpu_ms = cpu["ours"]["p50"] - cpu["bare"]["p50"]
    imports = _import_report(profile["ours"], profile["bare"])
    targets = [
        check("cold start ours - bare (median, ms)", extra_ms, "<=", TARGET_EXTRA_MS),
        check("cold start ratio ours/bare (median)", ratio, "<=", TARGET_RATIO),
    ]

    rows = [
        (
            side,
            stats[side]["n"],
            stats[side]["p50"],
            stats[side]["min"],
            stats[side]["max"],
            phases[side]["initialize_ms"]["p50"],
            phases[side]["tools_list_ms"]["p50"],
            cpu[side]["p50"],
            samples[side][0]["tools"],
        )
        for side in ("ours", "bare")
    ]
    tables = print_table(
        "Cold start: spawn → initialize → tools/list (ms)",
        ["server", "n", "median", "min", "max", "initialize p50", "tools/list p50", "CPU p50", "tools"],
        rows,
    )
    tables += print_table(
        "Cold start: ours against bare",
        ["median ours - bare (ms)", "CPU p50 ours - bare (ms)", "median ratio", "min ratio"],
        [(round(extra_ms, 1), round(extra_cpu_ms, 1), round(ratio, 3), round(min_ratio, 3))],
    )
    totals = imports["total_self_ms"]
    tables += print_table(
        "Import time (-X importtime, min of repetitions, ms)",
        ["ours total", "bare total", "only ours", "modules ours/bare/only ours"],
        [
            (
                totals["ours"],
                totals["bare"],
                totals["only_ours"],
                "{ours}/{bare}/{only_ours}".format(**imports["modules"]),
            )
        ],
    )
    tables += print_table(
        "Imported only by ours, by top-level package (self time, ms)",
        ["package", "ms"],
        list(imports["only_ours_by_package_ms"].items())[:12],
    )
    tables += print_table(
        "Our own modules: cumulative (with what they import) and self import time (ms)",
        ["module (by cumulative)", "cumulative ms", "module (by self)", "self ms"],
        [
            (*cumulative, *own_self)
            for cumulative, own_self in zip(
                list(imports["own_modules_cumulative_ms"].items())[:10],
                list(imports["own_modules_self_ms"].items())[:10],
                strict=False,
            )
        ],
    )
    tables += targets_table(NAME, targets)
    result = {
        "machine": machine,
        "params": {"runs": runs, "importtime_repetitions": profiles, "protocol_version": "2025-06-18"},
        "results": {
            "total_ms": stats,
            "cpu_ms": cpu,
            "extra_ms_median": round(extra_ms, 1),
            "extra_cpu_ms_median": round(extra_cpu_ms, 1),
            "phases": phases,
            "ratio_median": round(ratio, 3),
            "ratio_min": round(min_ratio, 3),
            "tools": {side: samples[side][0]["tools"] for side in samples},
            "imports": imports,
        },
        "targets": targets,
    }
    return finish(NAME, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--runs", type=int, help="starts of each server (default 20, quick 3)")
    args = parser.parse_args()
    run(quick=args.quick, runs=args.runs)


if __name__ == "__main__":
    main()
