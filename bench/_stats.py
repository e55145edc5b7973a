"""Statistics, machine facts, markdown tables and the JSON result files of the benchmarks."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._procs import RESULTS_DIR, ROOT, machine_info


# --------------------------------------------------------------------------- statistics
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(seconds: Sequence[float], *, scale: float = 1000.0, digits: int = 3) -> dict[str, float]:
    """n, mean, min, p50, p90, p99, max of durations (seconds in, milliseconds out by default)."""
    if not seconds:
        return {"n": 0}
    values = [v * scale for v in seconds]
    return {
        "n": len(values),
        "mean": round(sum(values) / len(values), digits),
        "min": round(min(values), digits),
        "p50": round(percentile(values, 50), digits),
        "p90": round(percentile(values, 90), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values), digits),
    }


def check(name: str, value: float, op: str, limit: float, unit: str = "") -> dict[str, Any]:
    """One target: ``value op limit`` (op is ``<=``, ``<``, ``>=`` or ``==``)."""
    ops: dict[str, Callable[[float, float], bool]] = {
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b,
        "==": lambda a, b: a == b,
    }
    return {
        "target": f"{name} {op} {limit:g}{unit}",
        "value": round(value, 3) if isinstance(value, float) else value,
        "met": bool(ops[op](value, limit)),
    }


# --------------------------------------------------------------------------- output
def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    text = f"\n### {title}\n\n{md_table(headers, rows)}\n"
    print(text, flush=True)
    return text


def targets_table(name: str, targets: Sequence[dict[str, Any]]) -> str:
    rows = [(t["target"], t["value"], "met" if t["met"] else "**MISSED**") for t in targets]
    return print_table(f"{name}: targets", ["target", "value", "result"], rows)


def write_results(name: str, payload: dict[str, Any], *, quick: bool = False) -> Path:
    """``bench/results/<name>.json`` (``<name>.quick.json`` for smoke runs, so they never
    overwrite the figures of a full run)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}{'.quick' if quick else ''}.json"
    rest = {k: v for k, v in payload.items() if k not in ("machine", "tables")}
    document = {"benchmark": name, "machine": payload.get("machine") or machine_info(), **rest}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"results written to {path.relative_to(ROOT)}", flush=True)
    return path


def finish(name: str, result: dict[str, Any], tables: list[str], *, quick: bool) -> dict[str, Any]:
    """Write ``result`` to its JSON file and return it with its printed tables (for the summary)."""
    write_results(name, result, quick=quick)
    result["tables"] = tables
    return result


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    return parser
