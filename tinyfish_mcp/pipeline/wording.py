"""Argument problems in our own words: one short line per bad argument, safe to show.

Shared by the argument layer (``_arguments.py``, before the SDK validates) and by tool
code that validates nested payloads itself (``errors.invalid_input``). Nothing here
quotes more than a few dozen characters of what the caller sent, and control and
bidirectional-override characters are escaped, so an error message can neither flood
the model's context nor reorder or hide text on a screen.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

__all__ = [
    "MAX_MESSAGE",
    "describe_errors",
    "join_problems",
    "location",
    "safe_message",
    "safe_text",
    "shown",
]

# C0 and C1 controls, DEL, and the characters that reorder or hide text (bidi
# embeddings, overrides and isolates, marks, zero-width joiners, the BOM).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
SHOWN_CHARS = 60
"""How much of one rejected value a message quotes."""
MAX_LINES = 8
"""How many problems one message lists (the rest are counted)."""
MAX_MESSAGE = 1_500
"""Characters in one error message as the client gets it."""
MAX_RUN = 200
"""Characters of one unbroken run (a quoted id, URL or value) an error message keeps."""
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")
# In a whole message, line breaks are ours (one problem per line); every other control is escaped.
_UNSAFE_IN_MESSAGE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)

# Parts of a pydantic error location that name a union member or validator, not a field.
_TAG = re.compile(r"^(str|int|float|bool|list|dict|none|json-or-python|lax-or-strict|.*[\[(].*)$")

_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "an object",
    "model": "an object",
    "model_attributes": "an object",
    "literal": "one of the allowed values",
}


def safe_text(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with unsafe characters escaped as ``\\uXXXX``."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", cut)


def safe_message(message: str) -> str:
    """Any error message made safe to show: unsafe characters escaped, long runs and the whole cut.

    The last guard for text a tool built from its input (``while cancelling run <id>``).
    """
    text = _UNSAFE_IN_MESSAGE.sub(lambda m: f"\\u{ord(m.group()):04x}", message)
    text = _LONG_RUN.sub(lambda m: m.group()[:MAX_RUN] + f"… ({len(m.group()):,} characters)", text)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + "… (message cut)"
    return text


def shown(value: Any) -> str:
    """A short, safe rendering of a rejected value, saying how long it was when cut."""
    if isinstance(value, str):
        text = safe_text(json.dumps(value, ensure_ascii=False)[1:-1])
        size = f" ({len(value):,} characters)" if len(value) > SHOWN_CHARS else ""
        return f'"{text}"{size}'
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        rendered = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        rendered = type(value).__name__
    return safe_text(rendered)


def location(parts: Sequence[int | str]) -> str:
    """``("runs", 0, "url")`` as ``runs[0].url``; union tags and validator names are dropped."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _TAG.match(part):
            out += ("." if out else "") + safe_text(part, 40)
    return out or "(arguments)"


def _bounds(ctx: dict[str, Any], schema: dict[str, Any]) -> tuple[Any, Any]:
    low = schema.get("minimum", ctx.get("ge", ctx.get("gt")))
    high = schema.get("maximum", ctx.get("le", ctx.get("lt")))
    return low, high


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _line(err: dict[str, Any], schema: dict[str, Any]) -> str:
    """One problem, worded for the model: what is wrong and what is allowed."""
    where = f"`{location(err.get('loc', ()))}`"
    kind = str(err.get("type", ""))
    ctx: dict[str, Any] = err.get("ctx") or {}
    got = f"; got {shown(err['input'])}" if "input" in err else ""
    if kind == "missing":
        return f"{where} is required and missing"
    if kind == "extra_forbidden":
        return f"{where} is not a known field"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(ctx, schema)
        if low is not None and high is not None:
            return f"{where} must be between {_number(low)} and {_number(high)}{got}"
        if low is not None:
            return f"{where} must be at least {_number(low)}{got}"
        return f"{where} must be at most {_number(high)}{got}"
    if kind in ("literal_error", "enum"):
        allowed = schema.get("enum") or []
        names = ", ".join(safe_text(str(a), 30) for a in allowed) if allowed else str(ctx.get("expected", ""))
        return f"{where} must be one of: {names}{got}"
    if kind in ("too_short", "string_too_short"):
        least = ctx.get("min_length", 1)
        unit = "characters" if kind.startswith("string") else "items"
        if least == 1 and unit == "characters":
            return f"{where} must not be empty"
        if least == 1:
            return f"{where} needs at least 1 item"
        return f"{where} needs at least {least} {unit}{got}"
    if kind in ("too_long", "string_too_long"):
        unit = "characters" if kind.startswith("string") else "items"
        return f"{where} can have at most {ctx.get('max_length')} {unit}{got}"
    for prefix, noun in _KINDS.items():
        if kind.startswith(prefix + "_") or kind == prefix:
            return f"{where} must be {noun}{got}"
    message = safe_text(str(err.get("msg", "is invalid")).removeprefix("Value error, "), 160)
    name = location(err.get("loc", ())).rsplit(".", 1)[-1]
    if "got " in message:
        got = ""  # the validator already quotes the value
    if message.startswith(name + " "):
        # The validator named the field itself ("goal must not be blank").
        return f"{where}{message[len(name) :]}{got}"
    return f"{where}: {message}{got}"


def _first_per_location(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One error per argument path: a union reports each member's failure, the first says enough."""
    seen: dict[str, dict[str, Any]] = {}
    for err in errors:
        seen.setdefault(location(err.get("loc", ())), err)
    return list(seen.values())


def describe_errors(
    exc: ValidationError, schema: dict[str, Any] | None = None, prefix: Sequence[int | str] = ()
) -> list[str]:
    """Each problem of ``exc`` as one line; ``schema`` (the tool's input schema) supplies bounds."""
    properties: dict[str, Any] = (schema or {}).get("properties", {})
    lines = []
    for err in _first_per_location([dict(e) for e in exc.errors(include_url=False)]):
        err = dict(err)
        err["loc"] = (*prefix, *err.get("loc", ()))
        loc = err["loc"]
        field = properties.get(loc[0], {}) if len(loc) == 1 and isinstance(loc[0], str) else {}
        lines.append(_line(err, field))
    return lines


def join_problems(
    lines: Sequence[str], *, footer: str = "Fix these and call again.", what: str | None = None
) -> str:
    """The message for ``lines``: bounded to :data:`MAX_LINES`, one per line, then ``footer``.

    ``what`` names the payload when it is not the call's arguments ("config of a fetch monitor").
    """
    shown_lines = list(lines[:MAX_LINES])
    if len(lines) > MAX_LINES:
        shown_lines.append(f"… and {len(lines) - MAX_LINES} more")
    if len(shown_lines) == 1:
        head = f"Invalid {what}: " if what else ""
        return f"{head}{shown_lines[0]}. {footer}".strip()
    head = f"Invalid {what or 'arguments'}:"
    return head + "\n" + "\n".join(f"- {line}" for line in shown_lines) + f"\n{footer}".rstrip()
