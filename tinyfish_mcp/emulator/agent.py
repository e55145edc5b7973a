"""The scripted agent: one background task per run moves it through its lifecycle.

PENDING -> RUNNING -> COMPLETED | FAILED | CANCELLED. The task runs on the server's
event loop whatever happens to the request that created the run, so a dropped SSE
stream or an abandoned ``/run`` call does not stop it; only a cancel does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from .config import EmulatorConfig
from .scenarios import Scenario, failure, result_for, step_action
from .state import RunRecord, Store

__all__ = ["cancel_run", "create_run"]


def create_run(
    store: Store,
    config: EmulatorConfig,
    *,
    owner: str,
    origin: str,
    body: dict[str, Any],
    scenario: Scenario,
    base_url: str,
) -> RunRecord:
    """Record a new run, emit STARTED and start its background task."""
    run = RunRecord(
        run_id=str(uuid.uuid4()),
        seq=store.next_seq(),
        owner=owner,
        origin=origin,
        goal=str(body["goal"]),
        url=str(body["url"]).strip(),
        body=body,
        scenario=scenario,
        base_url=base_url,
    )
    store.runs[run.run_id] = run
    run.emit("STARTED")
    if scenario.pending <= 0:
        # Started at once, so a stream sees STARTED and STREAMING_URL back to back.
        run.start()
    run.task = asyncio.get_running_loop().create_task(_drive(run, config))
    return run


def cancel_run(run: RunRecord) -> dict[str, Any]:
    """Cancel a run (idempotent) and return the documented cancel result."""
    if run.status == "CANCELLED":
        return run.cancel_wire("Run already cancelled")
    if run.terminal:
        return run.cancel_wire("Run already finished")
    run.cancel_requested = True
    if run.task is not None and not run.task.done():
        run.task.cancel()
    run.finish("CANCELLED", None, None)
    return run.cancel_wire(None)


def _step_budget(run: RunRecord) -> int | None:
    agent_config = run.body.get("agent_config") or {}
    value = agent_config.get("max_steps")
    return value if isinstance(value, int) else None


def _deadline(run: RunRecord, config: EmulatorConfig, started: float) -> float | None:
    """When the run must stop: the scaled 10-minute limit for ``overlimit``, or the
    run's own ``agent_config.max_duration_seconds`` (wall clock, not scaled)."""
    limits: list[float] = []
    if run.scenario.kind == "overlimit":
        limits.append(config.run_time_limit)
    max_duration = (run.body.get("agent_config") or {}).get("max_duration_seconds")
    if isinstance(max_duration, int):
        limits.append(float(max_duration))
    return started + min(limits) if limits else None


async def _drive(run: RunRecord, config: EmulatorConfig) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await _script(run, config)


async def _script(run: RunRecord, config: EmulatorConfig) -> None:
    scenario = run.scenario
    if scenario.pending > 0:
        await asyncio.sleep(scenario.pending)
        run.start()
    started = time.monotonic()
    deadline = _deadline(run, config, started)
    budget = _step_budget(run)
    endless = scenario.kind == "overlimit"
    index = 0
    while endless or index < scenario.steps:
        if budget is not None and index >= budget:
            run.finish("FAILED", None, failure("MAX_STEPS_EXCEEDED"))
            return
        pause = scenario.step_delay
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= pause:
                await asyncio.sleep(max(remaining, 0.0))
                run.finish("FAILED", None, failure("TIMEOUT"))
                return
        step_started = time.monotonic()
        await asyncio.sleep(pause)
        run.add_step(step_action(index, run.url, run.goal), time.monotonic() - step_started)
        index += 1
    if scenario.kind == "failed" and scenario.error_code is not None:
        run.finish("FAILED", None, failure(scenario.error_code))
    else:
        run.finish("COMPLETED", result_for(scenario, run.url, run.body.get("output_schema")), None)
