"""``python -m bench [--quick] [--only NAME ...]``: every benchmark in turn, then all targets.

Each benchmark writes ``bench/results/<name>.json``; this also writes
``bench/results/SUMMARY.md`` (machine, command, every table) for the performance guide
(``docs/performance.md``). A benchmark that cannot run is reported and the others still run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from . import coldstart, http_load, open_loop, overhead, progress, streams, tasks_get
from ._common import RESULTS_DIR, machine_info, machine_line, md_table

BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "coldstart": coldstart.run,
    "overhead": overhead.run,
    "progress": progress.run,
    "http_load": http_load.run,
    "open_loop": open_loop.run,
    "streams": streams.run,
    "tasks_get": tasks_get.run,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke runs of a few seconds each")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    machine = machine_info()
    print(f"Machine: {machine_line(machine)}", flush=True)
    started = time.monotonic()
    sections: list[str] = []
    rows: list[tuple[str, str, Any, str]] = []
    failed = False
    for name in names:
        print(f"\n## {name}", flush=True)
        began = time.monotonic()
        try:
            result = BENCHMARKS[name](quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed = True
            traceback.print_exc()
            rows.append((name, "ran", f"{type(exc).__name__}: {str(exc)[:120]}", "**FAILED**"))
            continue
        print(f"({name}: {time.monotonic() - began:.0f} s)", flush=True)
        sections.append(f"## {name}\n{result.get('tables', '')}")
        for target in result.get("targets", []):
            rows.append((name, target["target"], target["value"], "met" if target["met"] else "**MISSED**"))
    summary = md_table(["benchmark", "target", "value", "result"], rows)
    print(f"\n## All targets\n\n{summary}\n", flush=True)
    total = time.monotonic() - started
    print(f"Total: {total:.0f} s", flush=True)
    command = (
        "python -m bench"
        + (" --quick" if args.quick else "")
        + (f" --only {' '.join(names)}" if args.only else "")
    )
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Machine: {machine_line(machine)}",
            f"Taken: {machine['taken_at']}; command: `{command}` (from the repository root, in the venv); "
            f"total {total:.0f} s.",
            "",
            "## All targets",
            "",
            summary,
            "",
            *sections,
        ]
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / ("SUMMARY-quick.md" if args.quick else "SUMMARY.md")).write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
