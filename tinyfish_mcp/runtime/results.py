"""What the agent and runs tools return, and how an upstream run becomes that.

The models are the tools' structured output (their ``outputSchema``). Three things
are decided here rather than in the tools:

* whether a COMPLETED run actually achieved its goal (``warning``),
* what a FAILED run tells the model to try next (the tool error text),
* how a huge ``result`` is clipped so one run cannot flood the model's context.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import WithJsonSchema, field_validator

from .bounds import clip
from .schema import OutputModel
from .surface import served

if TYPE_CHECKING:
    from ..upstream.models import Run, RunError, RunStep

__all__ = [
    "CancelBatch",
    "CancelInfo",
    "RunDetail",
    "RunErrorInfo",
    "RunPage",
    "RunResult",
    "RunRow",
    "RunsBatch",
    "StartedRun",
    "StartedRuns",
    "StepPage",
    "StepRow",
    "bound_result",
    "error_info",
    "failed_run_error",
    "failure_advice",
    "finish",
    "goal_failure_warning",
    "run_result",
    "run_row",
    "step_rows",
]

GOAL_PREVIEW_CHARS = 120
ACTION_CHARS = 500
# Clipping: the smallest slice worth returning, and room kept for the note saying how to go on.
MIN_SLICE = 500
NOTE_RESERVE = 250


class RunErrorInfo(OutputModel):
    code: str | None = None
    message: str = ""
    category: str | None = None
    retry_after: float | None = None
    help_url: str | None = None
    help_message: str | None = None


# A run's result is a JSON object; a clipped one is a slice of its JSON text. Written as
# anyOf, not a type list: Gemini's schema model refuses type lists (tests/test_providers.py).
_RUN_DATA_SCHEMA = {"anyOf": [{"type": "object"}, {"type": "array", "items": {}}, {"type": "string"}]}
RunData = Annotated[dict[str, Any] | list[Any] | str | None, WithJsonSchema(_RUN_DATA_SCHEMA)]


class RunResult(OutputModel):
    """One run as the model sees it. ``next_step`` says what to call next, when anything."""

    run_id: str
    status: str
    result: RunData = None
    error: RunErrorInfo | None = None
    num_of_steps: int | None = None
    streaming_url: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    warning: str | None = None
    next_step: str | None = None

    @field_validator("result", mode="before")
    @classmethod
    def _json_value(cls, value: Any) -> Any:
        # The API sends an object; anything else that is not a list or text is kept as JSON text.
        if value is None or isinstance(value, dict | list | str):
            return value
        return json.dumps(value, ensure_ascii=False, default=str)


class StepRow(OutputModel):
    index: int
    action: str | None = None
    status: str | None = None
    timestamp: str | None = None
    duration: str | None = None


class RunDetail(RunResult):
    goal: str | None = None
    url: str | None = None
    created_at: str | None = None
    video_url: str | None = None


class StepPage(OutputModel):
    """One page of a run's steps (screenshots, when asked for, follow as image blocks)."""

    run_id: str
    status: str
    total_steps: int
    offset: int
    steps: list[StepRow]
    next_offset: int | None = None
    next_step: str | None = None


class StartedRun(OutputModel):
    run_id: str
    status: str
    next_step: str


class StartedRuns(OutputModel):
    run_ids: list[str]
    next_step: str


class RunRow(OutputModel):
    run_id: str
    status: str
    goal: str | None = None
    created_at: str | None = None
    finished_at: str | None = None


class RunPage(OutputModel):
    runs: list[RunRow]
    total: int
    next_cursor: str | None = None


class RunsBatch(OutputModel):
    runs: list[RunRow]
    not_found: list[str]


class CancelInfo(OutputModel):
    run_id: str
    status: str
    cancelled_at: str | None = None
    message: str | None = None


class CancelBatch(OutputModel):
    results: list[CancelInfo]
    not_found: list[str]


# --------------------------------------------------------------------------- conversions


def error_info(error: RunError | None) -> RunErrorInfo | None:
    if error is None:
        return None
    return RunErrorInfo(
        code=error.code,
        message=error.message,
        category=error.category,
        retry_after=error.retry_after,
        help_url=error.help_url,
        help_message=error.help_message,
    )


def run_result(run: Run) -> RunResult:
    """The tool result of ``run`` (unbounded; pass it through :func:`bound_result`)."""
    out = RunResult(
        run_id=run.run_id,
        status=run.status,
        result=run.result,
        error=error_info(run.error),
        num_of_steps=run.num_of_steps if run.num_of_steps is not None else (len(run.steps) or None),
        streaming_url=run.streaming_url,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )
    return finish(out)


def finish(out: RunResult) -> RunResult:
    """Add the status-dependent advice: goal-failure warning, what to call next."""
    if out.status == "COMPLETED":
        out.warning = goal_failure_warning(out.result)
    elif out.status == "FAILED":
        out.next_step = failure_advice(out.run_id, out.error)
    elif out.status == "CANCELLED":
        out.next_step = "The run was cancelled; start a new run if the goal is still needed."
    elif out.status in ("PENDING", "RUNNING"):
        out.next_step = (
            f"The run is still going upstream (nothing is lost). Call wait_for_run(run_id='{out.run_id}') "
            "to keep waiting, or get_run later."
        )
    return out


def run_row(run: Run) -> RunRow:
    goal = run.goal
    if goal is not None and len(goal) > GOAL_PREVIEW_CHARS:
        goal = goal[: GOAL_PREVIEW_CHARS - 1] + "…"
    return RunRow(
        run_id=run.run_id,
        status=run.status,
        goal=goal,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def step_rows(steps: list[RunStep], start: int = 0) -> list[StepRow]:
    """Rows for ``steps``, numbered from ``start``; long action texts are clipped."""
    rows = []
    for index, step in enumerate(steps, start):
        action = step.action
        if action is not None and len(action) > ACTION_CHARS:
            action = action[: ACTION_CHARS - 1] + "…"
        rows.append(
            StepRow(
                index=index,
                action=action,
                status=step.status,
                timestamp=step.timestamp,
                duration=step.duration,
            )
        )
    return rows


# --------------------------------------------------------------------------- goal failure

# Words the documents name as signs that the agent was stopped by the site.
_BLOCK_WORDS = re.compile(r"captcha|access denied|blocked|bot detection", re.IGNORECASE)


def goal_failure_warning(result: Any) -> str | None:
    """A warning when a COMPLETED run's result says the goal was not achieved.

    COMPLETED only means the browser worked. The documented signals of a failed goal
    are ``result.status == "failure"`` (or ``success: false``) and text about a
    CAPTCHA, a block or denied access.
    """
    if result is None or result == "" or result == {}:
        return (
            "The run finished but returned no data: the goal was probably not achieved. "
            "Make the goal say exactly what to extract and pass output_schema."
        )
    failed = False
    reason = ""
    texts: list[str] = [result] if isinstance(result, str) else []
    if isinstance(result, dict):
        status = result.get("status")
        failed = (
            (isinstance(status, str) and status.lower() == "failure")
            or result.get("success") is False
            or bool(result.get("error"))
        )
        for key in ("reason", "error", "error_message", "message"):
            if isinstance(result.get(key), str):
                reason = result[key]
                break
        # Only top-level text: a deep listing that merely mentions "blocked" is data.
        texts = [v for v in result.values() if isinstance(v, str)]
    blocked = any(_BLOCK_WORDS.search(t) for t in texts) or (
        isinstance(result, dict) and result.get("blocked") is True
    )
    if not failed and not blocked:
        return None
    said = f" It said: {reason[:200]}" if reason else ""
    if blocked:
        return (
            "The goal was likely NOT achieved: the site seems to have blocked the agent "
            f"(CAPTCHA / access denied).{said} Retry with browser_profile='stealth' and "
            "proxy_config={'enabled': true, 'country_code': 'US'} (or the site's country)."
        )
    return (
        f"The goal was likely NOT achieved (the run completed, but its result reports failure).{said} "
        "Rephrase the goal with exact steps and fields; "
        + ("get_steps shows what the agent saw and did." if served("get_steps") else "get_run shows the run.")
    )


# --------------------------------------------------------------------------- failed runs

_ADVICE: dict[str, str] = {
    "SITE_BLOCKED": "The site blocked the agent: retry with browser_profile='stealth' and "
    "proxy_config={'enabled': true, 'country_code': 'US'} (or the site's own country).",
    "TIMEOUT": "Runs are limited to 10 minutes: split the goal into smaller runs, or add clear "
    "stop conditions (e.g. 'stop after 20 items').",
    "MAX_STEPS_EXCEEDED": "The agent ran out of steps: split the goal into smaller runs or raise "
    "agent_config.max_steps.",
    "INSUFFICIENT_CREDITS": "The account is out of credits: ask the user to add credits or upgrade "
    "the plan; retrying will not help until then.",
    "TASK_FAILED": "The agent could not do the task: rephrase the goal with numbered steps, exact "
    "fields and what to do when something is missing, then run again.",
}


def failed_run_error(run_id: str, error: RunErrorInfo | None) -> ToolError:
    """The tool error for a FAILED run: what happened and what to try next."""
    return ToolError(failure_advice(run_id, error))


def failure_advice(run_id: str, error: RunErrorInfo | None) -> str:
    """What a FAILED run means and what to try next, for the model to act on."""
    code = (error.code if error else None) or "UNKNOWN"
    message = (error.message if error else "") or "no details were given"
    parts = [f"Run {run_id} FAILED with {code}: {message}."]
    category = error.category if error else None
    if category == "SYSTEM_FAILURE":
        wait = f"{error.retry_after:g} seconds" if error and error.retry_after else "a short wait"
        parts.append(f"This is a TinyFish infrastructure failure: retry the same run after {wait}.")
    elif code in _ADVICE:
        parts.append(_ADVICE[code])
    elif category == "BILLING_FAILURE":
        parts.append(_ADVICE["INSUFFICIENT_CREDITS"])
    else:
        shows = f"get_steps(runId='{run_id}')" if served("get_steps") else f"get_run(id='{run_id}')"
        parts.append(f"Check the goal and the URL, then retry; {shows} shows what the agent did.")
    if error and error.help_message:
        parts.append(f"TinyFish says: {error.help_message}")
    if error and error.help_url:
        parts.append(f"More: {error.help_url}")
    return " ".join(parts)


# --------------------------------------------------------------------------- bounding


def bound_result(out: RunResult, max_chars: int, offset: int = 0) -> RunResult:
    """Clip ``out.result`` so the whole result stays within ``max_chars`` of JSON.

    A clipped result becomes a slice of its JSON text, and ``next_step`` says how to
    read the rest with get_run (the offset to pass).
    """
    if out.result is None:
        return out
    text = json.dumps(out.result, ensure_ascii=False, default=str)
    if offset <= 0 and len(out.model_dump_json()) <= max_chars:
        return out
    base_step = out.next_step
    budget = max(MIN_SLICE, max_chars - len(out.model_dump_json(exclude={"result"})) - NOTE_RESERVE)
    # The slice is escaped again inside the result's JSON, so fit it by measuring.
    for _ in range(8):
        chunk, next_offset = clip(text, budget, offset)
        out.result = chunk
        note = f"result is {len(text)} characters of JSON; this is characters {offset}-{offset + len(chunk)}."
        if next_offset is not None:
            note += (
                f" Read on with get_run(id='{out.run_id}', offset={next_offset}) "
                "(a larger max_chars gives bigger slices)."
            )
        out.next_step = f"{base_step} {note}" if base_step else note
        excess = len(out.model_dump_json()) - max_chars
        if excess <= 0 or budget <= MIN_SLICE:
            break
        budget = max(MIN_SLICE, budget - excess - 16)
    return out
