"""The goal-writing prompt: how to phrase a goal the web agent can follow.

Our own summary of TinyFish's goal guidance. The agent is a careful but literal
operator of a browser: it does well when it is told where to look, what to collect,
in which shape, what not to touch, and when to stop.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..pipeline.catalog import Catalog

__all__ = ["GOAL_GUIDE", "register_prompts", "write_goal_text", "write_web_goal"]

GOAL_GUIDE = """\
Write the goal for a TinyFish web-agent run. The agent sees the page like a person \
and clicks, types, scrolls and reads, but it does exactly what it is told and cannot \
guess intent. A good goal answers every question the agent would otherwise guess at:

1. Objective and target: what to achieve, and on which part of the page \
("the pricing table", "the search results list").
2. Fields: name each value to collect and its type (number without currency \
symbol, true/false, date as YYYY-MM-DD). Ask for nothing you do not need.
3. Shape: give the exact JSON to return, with sample values, e.g. \
{"name": "Example", "price": 19.99, "in_stock": true}. Better still, pass the same \
shape as output_schema (a JSON Schema) - the most reliable way to get usable data.
4. Steps: for multi-step work, number the steps; say "remember X" when a later step \
needs a value seen earlier. Describe buttons by what they look like and say, not by ids.
5. Guardrails: what must not happen ("do not click Buy or Submit", "do not log out").
6. Edge cases: what to return when something is missing or different \
("if no price is shown, use null"; "if a CAPTCHA or login wall appears, stop and \
return {"success": false, "error_type": "blocked"}").
7. Stop conditions: a limit on items, pages or clicks ("stop after 20 items or \
3 pages"), so the run ends well inside its 10-minute limit.

Form filling works best described in plain sentences about the person or company; \
the agent maps them to fields. For many similar runs (batch_create), keep \
the goal short and the shape identical in every run. If a site blocks the agent, \
retry with browser_profile "stealth" and a proxy in the site's country. Split work \
that needs many pages into several runs.
"""

WRITE_WEB_GOAL = "Turn a task into a precise goal (and output_schema) for run_web_automation."


def write_goal_text(task: str, url: str | None = None) -> str:
    """The prompt text for ``task`` (and the start ``url`` when known)."""
    where = f"\nStart page: {url}" if url else ""
    return (
        f"{GOAL_GUIDE}\nThe task:{where}\n{task}\n\n"
        "Reply with the goal text, then the output_schema (JSON Schema) to pass with it."
    )


def write_web_goal(
    task: Annotated[str, Field(description="What you want done on the web, in your own words.")],
    url: Annotated[str | None, Field(description="The start page, if known.")] = None,
) -> str:
    """The ``write_web_goal`` prompt: the goal guide around the user's task."""
    return write_goal_text(task, url)


def register_prompts(mcp: Catalog) -> None:
    """Register the goal-writing prompt on ``mcp``."""
    mcp.prompt(name="write_web_goal", description=WRITE_WEB_GOAL)(write_web_goal)
