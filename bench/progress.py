"""Progress relay: from the emulator sending a PROGRESS event to the client reading its notification.

The emulator runs behind ``bench._stamped_emulator``, which stamps each ``/run-sse`` PROGRESS
event with ``time.time()`` as the chunk is handed to uvicorn (the emulator's own ISO timestamp has
millisecond precision and is taken when the event is recorded, so it is reported beside, not
used). Our stdio server runs ``run_web_automation`` with a progress token, spoken to with raw
JSON-RPC; each ``notifications/progress`` line is stamped with ``time.time()`` when its bytes
arrive. Same clock, same machine. Notifications are paired with events by order of purpose
(STARTED, STREAMING_URL and HEARTBEAT notifications carry no step purpose and are skipped).

Target: p50 delay <= 2 ms.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import httpx

from ._common import (
    BenchError,
    StdioPeer,
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
    tool_text,
)

NAME = "progress"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _run_id(result: dict[str, Any]) -> str:
    structured = result.get("structuredContent") or {}
    if isinstance(structured, dict) and structured.get("run_id"):
        return str(structured["run_id"])
    match = _UUID.search(tool_text(result))
    if not match:
        raise BenchError(f"no run_id in the tool result: {tool_text(result)[:300]}")
    return match.group(0)


def _status(result: dict[str, Any]) -> str | None:
    structured = result.get("structuredContent") or {}
    return str(structured.get("status")) if isinstance(structured, dict) else None


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _pair(
    events: list[dict[str, Any]], notes: list[tuple[float, str]]
) -> tuple[list[float], list[float], int]:
    """Delays (arrival - sent) and (arrival - emulator's ISO stamp), matched in order of purpose."""
    delays: list[float] = []
    iso_delays: list[float] = []
    position = 0
    for event in events:
        purpose = str(event["purpose"])
        while position < len(notes) and purpose not in notes[position][1]:
            position += 1
        if position == len(notes):
            break
        arrived = notes[position][0]
        position += 1
        delays.append(arrived - float(event["sent"]))
        emitted = _epoch(event.get("emitted"))
        if emitted is not None:
            iso_delays.append(arrived - emitted)
    return delays, iso_delays, len(delays)


def _one_run(peer: StdioPeer, url: str, token: str) -> tuple[dict[str, Any], list[tuple[float, str]]]:
    """One ``run_web_automation`` call; returns its result and (arrival, message) of each progress."""
    notes: list[tuple[float, str]] = []

    def on_message(stamp: float, message: dict[str, Any]) -> None:
        params = message.get("params") or {}
        if message.get("method") == "notifications/progress" and params.get("progressToken") == token:
            notes.append((stamp, str(params.get("message") or "")))

    arguments = {"url": url, "goal": "Benchmark the progress relay", "max_wait_seconds": 300}
    result = peer.call_tool(
        "run_web_automation", arguments, progress_token=token, timeout=120.0, on_message=on_message
    )
    if result.get("isError"):
        raise BenchError(f"run_web_automation failed: {tool_text(result)[:300]}")
    return result, notes


def run(
    *, quick: bool = False, runs: int | None = None, steps: int | None = None, step_delay: float = 0.01
) -> dict[str, Any]:
    machine = machine_info()
    runs = runs or (1 if quick else 5)
    steps = steps or (40 if quick else 200)
    url = f"https://bench.example.com/?tf_scenario=slow&tf_steps={steps}&tf_step_delay={step_delay}"
    delays: list[float] = []
    iso_delays: list[float] = []
    per_run: list[dict[str, Any]] = []
    with (
        emulator(stamped=True) as emu,
        StdioPeer(ours_stdio_argv(), server_env(emu.url), name="ours") as peer,
        httpx.Client() as http,
    ):
        peer.handshake()
        deadline = time.monotonic() + (60 if quick else 180)
        for index in range(runs):
            result, notes = _one_run(peer, url, f"bench-progress-{index}")
            run_id = _run_id(result)
            events = http.get(f"{emu.url}/_bench/stamps", params={"run_id": run_id}).json()
            got, got_iso, matched = _pair(events, notes)
            delays.extend(got)
            iso_delays.extend(got_iso)
            per_run.append(
                {
                    "run_id": run_id,
                    "status": _status(result),
                    "progress_events_sent": len(events),
                    "notifications": len(notes),
                    "matched": matched,
                    "delay_ms": summarize(got),
                }
            )
            if time.monotonic() > deadline:
                break
    stats = summarize(delays)
    iso_stats = summarize(iso_delays)
    sent = sum(r["progress_events_sent"] for r in per_run)
    matched = sum(r["matched"] for r in per_run)
    targets = [
        check("relay delay p50", stats.get("p50", float("inf")), "<=", 2.0, " ms"),
        check("PROGRESS events relayed", matched, ">=", sent),
    ]
    tables = print_table(
        "Progress relay delay: emulator send → client arrival (ms)",
        ["stamps", "n", "min", "p50", "p90", "p99", "max"],
        [
            ("send-time (time.time())", *(stats.get(k) for k in ("n", "min", "p50", "p90", "p99", "max"))),
            (
                "emulator ISO timestamp (ms, at record)",
                *(iso_stats.get(k) for k in ("n", "min", "p50", "p90", "p99", "max")),
            ),
        ],
    )
    tables += print_table(
        "Progress relay runs",
        ["run", "status", "PROGRESS sent", "notifications", "matched", "p50 ms", "p99 ms"],
        [
            (
                r["run_id"][:8],
                r["status"],
                r["progress_events_sent"],
                r["notifications"],
                r["matched"],
                r["delay_ms"].get("p50"),
                r["delay_ms"].get("p99"),
            )
            for r in per_run
        ],
    )
    tables += targets_table(NAME, targets)
    result = {
        "machine": machine,
        "params": {"runs": runs, "steps": steps, "step_delay": step_delay, "url": url},
        "results": {"delay_ms": stats, "delay_from_emulator_iso_ms": iso_stats, "runs": per_run},
        "targets": targets,
    }
    return finish(NAME, result, tables, quick=quick)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--runs", type=int, help="runs (default 5, quick 1)")
    parser.add_argument("--steps", type=int, help="PROGRESS steps per run (default 200, quick 40)")
    args = parser.parse_args()
    run(quick=args.quick, runs=args.runs, steps=args.steps)


if __name__ == "__main__":
    main()
