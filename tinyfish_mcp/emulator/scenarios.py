"""Scripted run scenarios, chosen by the query string of the run's target URL.

``https://shop.example.com/?tf_scenario=failed&tf_error=SITE_BLOCKED`` selects a run
that fails with SITE_BLOCKED; no ``tf_scenario`` means a quick success. The scenario
decides how many steps the run takes, how far apart, and how it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .config import EmulatorConfig
from .wire import Issue, issue

__all__ = ["ERRORS", "SCENARIOS", "Scenario", "failure", "parse_scenario", "result_for"]

SCENARIOS = ("success", "goal_failure", "captcha", "failed", "slow", "overlimit", "pending")
HELP_BASE = "https://docs.tinyfish.ai"

# code -> (category, message, retry_after, help path, help message)
ERRORS: dict[str, tuple[str, str, int | None, str, str]] = {
    "TASK_FAILED": (
        "AGENT_FAILURE",
        "The agent could not complete the task",
        None,
        "/prompting-guide",
        "Make the goal more specific: name the page elements and the output you expect.",
    ),
    "SITE_BLOCKED": (
        "AGENT_FAILURE",
        "The target site blocked the browser",
        None,
        "/key-concepts/browser-profiles",
        "Retry with browser_profile 'stealth' and a proxy in the site's country.",
    ),
    "MAX_STEPS_EXCEEDED": (
        "AGENT_FAILURE",
        "The run used all of its allowed steps before finishing the goal",
        None,
        "/prompting-guide",
        "Split the goal into smaller runs or raise agent_config.max_steps.",
    ),
    "TIMEOUT": (
        "AGENT_FAILURE",
        "The run exceeded its time limit",
        None,
        "/key-concepts/runs",
        "Runs are limited to 10 minutes; break the goal into shorter tasks.",
    ),
    "INSUFFICIENT_CREDITS": (
        "BILLING_FAILURE",
        "Insufficient credits to continue the run",
        None,
        "/faq",
        "Add credits or upgrade the plan, then start the run again.",
    ),
    "INTERNAL_ERROR": (
        "SYSTEM_FAILURE",
        "An unexpected error occurred in the browser infrastructure",
        30,
        "/error-codes",
        "This is on our side and usually transient: retry after a short wait.",
    ),
}


@dataclass(frozen=True)
class Scenario:
    kind: str
    steps: int
    step_delay: float
    error_code: str | None = None
    pending: float = 0.0


def failure(code: str, message: str | None = None) -> dict[str, Any]:
    """The run ``error`` object of a documented run-level failure code."""
    category, default_message, retry_after, help_path, help_message = ERRORS[code]
    return {
        "code": code,
        "message": message or default_message,
        "category": category,
        "retry_after": retry_after,
        "help_url": HELP_BASE + help_path,
        "help_message": help_message,
    }


def _number(params: dict[str, list[str]], name: str, default: float, issues: list[Issue]) -> float:
    raw = params.get(name, [None])[0]
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        issues.append(issue("custom", ["url"], f"{name} must be a number >= 0"))
        return default
    return value


def parse_scenario(url: str, config: EmulatorConfig) -> tuple[Scenario, list[Issue]]:
    """The scenario a URL selects, plus issues for unknown names (typos must not pass)."""
    params = parse_qs(urlsplit(url).query)
    issues: list[Issue] = []
    kind = params.get("tf_scenario", ["success"])[0]
    if kind not in SCENARIOS:
        issues.append(issue("custom", ["url"], f"unknown tf_scenario {kind!r}"))
        kind = "success"
    slow = kind == "slow"
    steps = int(_number(params, "tf_steps", 40 if slow else 3, issues))
    delay = _number(params, "tf_step_delay", 0.5 if slow else config.step_delay, issues)
    code: str | None = None
    if kind == "failed":
        code = params.get("tf_error", ["TASK_FAILED"])[0]
        if code not in ERRORS:
            issues.append(issue("custom", ["url"], f"unknown tf_error {code!r}"))
            code = "TASK_FAILED"
    pending = _number(params, "tf_pending", 0.5, issues) if kind == "pending" else 0.0
    return Scenario(kind, steps, delay, code, pending), issues


def step_action(index: int, url: str, goal: str) -> str:
    """A plausible description of scripted step ``index`` (0-based)."""
    if index == 0:
        return f"Navigate to {url}"
    actions = (
        "Wait for the page content to load",
        "Scroll down to reveal more of the page",
        f"Read the page to work on the goal: {goal[:60]}",
        "Click the most relevant link",
        "Extract the requested information",
    )
    return actions[(index - 1) % len(actions)]


def result_for(scenario: Scenario, url: str, output_schema: dict[str, Any] | None) -> dict[str, Any]:
    """The ``result`` of a COMPLETED run of this scenario."""
    host = urlsplit(url).hostname or "the site"
    if scenario.kind == "goal_failure":
        return {"status": "failure", "reason": f"Could not find the requested information on {host}"}
    if scenario.kind == "captcha":
        return {
            "status": "failure",
            "reason": f"Access denied: {host} showed a CAPTCHA challenge that blocked the page",
            "blocked": True,
        }
    if output_schema is not None:
        value = fill_schema(output_schema, output_schema, "result", 0)
        if isinstance(value, dict):
            return value
        return {"result": value}
    items = [{"name": f"Item {i}", "url": f"https://{host}/items/{i}"} for i in range(1, 4)]
    return {"title": f"Results from {host}", "items": items}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}
    return schema


_STRING_FORMATS = {
    "uri": "https://example.com/item",
    "url": "https://example.com/item",
    "email": "someone@example.com",
    "date": "2026-01-15",
    "date-time": "2026-01-15T10:00:00Z",
}


def fill_schema(schema: Any, root: dict[str, Any], name: str, depth: int) -> Any:
    """A plausible value that follows a JSON Schema (types, enums, formats, bounds)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return fill_schema((usable or options)[0], root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        return {key: fill_schema(sub, root, key, depth + 1) for key, sub in props.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 2)), 1)
        count = min(count, int(schema.get("maxItems", count)))
        return [fill_schema(schema.get("items", {}), root, name, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        value = float(schema.get("minimum", 1 if kind == "integer" else 9.99))
        value = min(value, float(schema.get("maximum", value)))
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = _STRING_FORMATS.get(str(schema.get("format", "")), f"Example {name}")
    min_length = int(schema.get("minLength", 0))
    return text.ljust(min_length, "x")
