"""One bounded answer for every malformed JSON-RPC message, on stdio and over HTTP.

:func:`screen` looks at a message's raw bytes before the SDK parses them and returns the
JSON-RPC error to answer with, or ``None`` for a message the SDK may read. It refuses:

* nesting deeper than :data:`MAX_NESTING` levels, found by a scan that counts brackets
  outside strings without recursion, so 5,000 or 500,000 levels cost one pass and get an
  answer (-32600 invalid request, with the request's id when the top level names one);
* text that is not JSON (-32700 parse error, id null);
* a batch array (-32600: one message per request, in plain words);
* anything but an object, or an object without a ``method`` that is no response;
* an ``id`` that is not a string of at most :data:`MAX_ID_CHARS` characters or a 64-bit integer
  (-32600, id null: JSON-RPC has no other kinds of id, and a float or an object would
  otherwise be taken for a notification and never answered);
* a ``method`` that is not a string, or longer than :data:`MAX_METHOD_CHARS` (quoted by
  its start only, escaped).

Every answer is a few hundred bytes at most: nothing of the message is echoed beyond
:data:`QUOTED_CHARS` characters.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from mcp_types import INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR

__all__ = [
    "MAX_ID_CHARS",
    "MAX_METHOD_CHARS",
    "MAX_NESTING",
    "QUOTED_CHARS",
    "nesting_depth",
    "quoted",
    "screen",
    "too_deep",
]

MAX_NESTING = 128
"""Levels of arrays and objects one message may nest (under the SDK parser's 200; a tool's
arguments are refused past 32 by the argument layer, with a tool error naming them)."""
MAX_ID_CHARS = 256
"""Characters in a string request id."""
MAX_METHOD_CHARS = 128
"""Characters in a method name (the longest real one is under 40)."""
QUOTED_CHARS = 40
"""Characters of a method name quoted back in an error."""

_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), 0x22, 0x5C
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_UNSAFE = re.compile(r"[^\x20-\x7e]")


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def too_deep(data: bytes, limit: int = MAX_NESTING) -> bool:
    """True when ``data`` nests arrays and objects deeper than ``limit`` (fast: C-level passes)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def nesting_depth(data: bytes, limit: int = MAX_NESTING) -> tuple[int, Any]:
    """How deep ``data`` nests (counted up to ``limit + 1``), and the top-level ``id`` when
    the scan reads one (a string or a number; ``None`` otherwise). One pass, no recursion."""
    depth = deepest = 0
    i, size = 0, len(data)
    ident: Any = None
    while i < size:
        byte = data[i]
        if byte == _QUOTE:
            end = _string_end(data, i)
            if depth == 1 and ident is None and data[i:end] == b'"id"':
                ident = _scalar_after_colon(data, end)
            i = end
            continue
        if byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit and ident is not None:
                    break
        elif byte in _CLOSE:
            depth -= 1
        i += 1
    return deepest, ident


def _string_end(data: bytes, start: int) -> int:
    """The offset just after the JSON string starting at ``start`` (or the end of the data)."""
    i = start + 1
    size = len(data)
    while i < size:
        byte = data[i]
        if byte == _BACKSLASH:
            i += 2
            continue
        if byte == _QUOTE:
            return i + 1
        i += 1
    return size


def _scalar_after_colon(data: bytes, at: int) -> Any:
    """The string or number following ``: `` at ``at`` (a key's value), or None."""
    size = len(data)
    while at < size and data[at] in b" \t\r\n":
        at += 1
    if at >= size or data[at] != ord(":"):
        return None
    at += 1
    while at < size and data[at] in b" \t\r\n":
        at += 1
    if at < size and data[at] == _QUOTE:
        end = _string_end(data, at)
        if end - at > MAX_ID_CHARS * 6 + 2:
            return None
        try:
            return json.loads(data[at:end])
        except ValueError:
            return None
    match = _NUMBER.match(data, at)
    if match and len(match.group()) <= 40:
        number = json.loads(match.group())
        return number
    return None


def _error(code: int, message: str, ident: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}


def _valid_id(ident: Any) -> bool:
    if isinstance(ident, bool):
        return False
    if isinstance(ident, int):
        return -(2**63) <= ident < 2**63
    return isinstance(ident, str) and len(ident) <= MAX_ID_CHARS


def quoted(text: str, limit: int = QUOTED_CHARS) -> str:
    """``text`` cut to ``limit`` characters, anything outside printable ASCII escaped."""
    cut = text[:limit]
    shown = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", cut)
    return shown + (f"... ({len(text):,} characters)" if len(text) > limit else "")


def screen(data: bytes) -> dict[str, Any] | None:
    """The JSON-RPC error answering the message ``data``, or None when the SDK may read it."""
    if too_deep(data):
        _, scanned_id = nesting_depth(data)
        ident = scanned_id if _valid_id(scanned_id) else None
        return _error(
            INVALID_REQUEST,
            f"Invalid request: the message nests deeper than {MAX_NESTING} levels of arrays and objects.",
            ident,
        )
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        return _error(PARSE_ERROR, "Parse error: not valid JSON")
    if isinstance(message, list):
        return _error(
            INVALID_REQUEST,
            "Invalid request: batches (JSON arrays of messages) are not supported; send each request "
            "as its own JSON object.",
        )
    if not isinstance(message, dict):
        return _error(INVALID_REQUEST, "Invalid request: a JSON-RPC message is a JSON object.")
    if "id" in message and not _valid_id(message["id"]):
        return _error(
            INVALID_REQUEST,
            f"Invalid request: id must be a string of at most {MAX_ID_CHARS} characters or an integer "
            "(64-bit).",
        )
    ident = message.get("id")
    if message.get("jsonrpc") != "2.0":
        return _error(INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0".', ident)
    if "method" not in message:
        if ident is not None and ("result" in message or "error" in message):
            return None  # a response to one of our requests
        return _error(INVALID_REQUEST, "Invalid request: a request needs a method.", ident)
    method = message["method"]
    if not isinstance(method, str):
        return _error(INVALID_REQUEST, "Invalid request: method must be a string.", ident)
    if len(method) > MAX_METHOD_CHARS and ident is not None:
        # (A notification is never answered: the SDK drops one it does not know.)
        return _error(METHOD_NOT_FOUND, f"Method not found: {quoted(method)}", ident)
    return None
