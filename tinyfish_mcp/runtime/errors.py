"""Turning upstream failures into tool errors that tell the model what to do next.

Upstream errors become ``isError`` tool results (not protocol errors), so the model
reads them and can act: fix the input, wait and retry, or ask the user for a key.
Whenever a run already exists, its id is part of the message, so the run is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from ..pipeline.wording import describe_errors, join_problems, safe_text
from ..upstream.constants import TOP_UP_URL
from ..upstream.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UpstreamError,
)
from ..upstream.writes import note_credit_refusal

if TYPE_CHECKING:
    from ..upstream.client import TinyFishClient

__all__ = [
    "balance_note",
    "explain",
    "invalid_input",
    "is_credit_error",
    "remember_caller",
    "shown_id",
    "tool_error",
    "upstream_call",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

# The wallet read that an out-of-credits error adds; short, since it delays the error.
BALANCE_TIMEOUT = 3.0
_BALANCE: ContextVar[Callable[[], Awaitable[str | None]] | None] = ContextVar(
    "tinyfish_balance", default=None
)


MAX_SHOWN_ID = 80
"""Characters of an id quoted in a message; a longer id is cut and its length said."""


def shown_id(ident: str) -> str:
    """An id as a message quotes it: escaped, and cut (saying its length) when long."""
    if len(ident) <= MAX_SHOWN_ID:
        return safe_text(ident, MAX_SHOWN_ID)
    return f"{safe_text(ident, MAX_SHOWN_ID)} ({len(ident):,} characters)"


def remember_caller(client: TinyFishClient, key: str) -> None:
    """Let this tool call's credit errors read the caller's wallet (set when the key resolves)."""

    async def lookup() -> str | None:
        wallet = await client.wallet.get(key)
        reload = wallet.auto_reload.state if wallet.auto_reload is not None else None
        text = f"Wallet balance: {wallet.available_balance} {wallet.currency}"
        return f"{text} (auto-reload {reload})." if reload else f"{text}."

    _BALANCE.set(lookup)


def is_credit_error(exc: UpstreamError) -> bool:
    """A refusal for lack of credit (402, INSUFFICIENT_CREDITS, or a 403 that says so)."""
    if not isinstance(exc, PermissionDeniedError):
        return False
    return exc.code == "INSUFFICIENT_CREDITS" or exc.status == 402 or "credit" in exc.message.lower()


async def balance_note() -> str | None:
    """The caller's balance in one sentence, or None when it cannot be read quickly."""
    lookup = _BALANCE.get()
    if lookup is None:
        return None
    with anyio.move_on_after(BALANCE_TIMEOUT):
        try:
            return await lookup()
        except UpstreamError as exc:
            log.info("could not read the wallet for a credit error: %s", exc.code)
    return None


def tool_error(
    exc: UpstreamError,
    *,
    action: str,
    run_id: str | None = None,
    find: str = "list_runs shows recent runs",
    rate_limit: str | None = None,
) -> ToolError:
    """A ``ToolError`` for ``exc`` raised while doing ``action`` (e.g. "starting the run").

    ``find`` says where the right id can be found, for a 404; ``rate_limit`` names the
    product's own limit, said on a 429 only.
    """
    parts = [f"{exc.vendor} failed while {action}: {str(exc).rstrip('.')}."]
    if run_id:
        parts.append(
            f"The run {run_id} was already started and may still be going: "
            f"check it with get_run(id='{run_id}') or wait_for_run."
        )
    if exc.vendor != "TinyFish":
        parts.append(exc.hint)
    elif isinstance(exc, AuthenticationError):
        parts.append(
            "The API key was not accepted. Ask the user to check TINYFISH_API_KEY "
            "(or to sign in again on a hosted server)."
        )
    elif isinstance(exc, RateLimitError):
        if rate_limit:
            parts.append(f"{rate_limit.rstrip('.')}.")
        if exc.retry_at:
            parts.append(f"Rate limited: {exc.hint}")
        else:
            parts.append("Rate limited: wait about 15-60 seconds before calling again; do not loop quickly.")
    elif isinstance(exc, NotFoundError):
        parts.append(f"Check the id ({find}).")
    elif is_credit_error(exc):
        if run_id is None:
            note_credit_refusal()  # may be offered as a top-up question (pipeline/top_up.py)
        parts.append(f"{exc.hint.rstrip('.')}: top up at {TOP_UP_URL} (get_wallet shows the balance).")
    elif isinstance(exc, InvalidInputError):
        parts.append("Correct the named fields and call again.")
    else:
        parts.append(exc.hint)
    request_id = getattr(exc, "request_id", None)
    if request_id and (exc.status or 0) >= 500:
        # The service's own id for the failed request (a bounded token, never a secret).
        parts.append(f"If it persists, report {exc.vendor}'s request id {request_id} to its support.")
    return ToolError(" ".join(parts))


def invalid_input(exc: ValidationError, *, what: str | None = None) -> ToolError:
    """A ``ToolError`` with one line per invalid field (of ``what``, when named), in our words.

    Bounded and safe to show, like every argument error (``pipeline/wording.py``).
    """
    return ToolError(join_problems(describe_errors(exc), what=what))


async def upstream_call(
    action: str,
    call: Awaitable[T],
    *,
    run_id: str | None = None,
    find: str = "list_runs shows recent runs",
    rate_limit: str | None = None,
) -> T:
    """Await ``call``; an upstream failure becomes a tool error saying what we were doing."""
    try:
        return await call
    except UpstreamError as exc:
        raise await explain(exc, action=action, run_id=run_id, find=find, rate_limit=rate_limit) from None


async def explain(
    exc: UpstreamError,
    *,
    action: str,
    run_id: str | None = None,
    find: str = "list_runs shows recent runs",
    rate_limit: str | None = None,
) -> ToolError:
    """``tool_error``, plus the caller's wallet balance when ``exc`` is a credit refusal."""
    error = tool_error(exc, action=action, run_id=run_id, find=find, rate_limit=rate_limit)
    note = await balance_note() if is_credit_error(exc) else None
    return ToolError(f"{error} {note}") if note else error
