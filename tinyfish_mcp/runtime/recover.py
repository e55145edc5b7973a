"""Creating runs and sessions without ever losing or doubling one.

A create (``/run-sse``, ``/run-async``, ``/run-batch``, ``POST /v1/browser``) can fail
in two ways that look alike to the caller but are not:

* the service **never acted** on it: the connection was refused, DNS failed, or it
  answered 4xx/429 (``UpstreamError.may_have_been_processed`` is False). Nothing exists;
  the tool says so, and calling again is safe.
* the service **may have acted** and the answer was lost: a 5xx, a timeout or a reset
  after sending, an unreadable answer, a stream that closed before confirming the run.
  The request is never sent again (that would start and bill a second run). Instead we
  look for what was created: the runs created since the request left
  (``GET /v1/runs?created_after=...``) whose goal and URL are the ones we sent. One
  match per run asked for is the run: the tool goes on as if the answer had arrived.
  Otherwise the error says that something may have been created and billed, gives the
  exact ``list_runs`` call that finds it, and tells the model not to start it again.

A lost browser session is looked for in the provider's listing of sessions (created since
the request left, and unknown to this server): one found with its connection URL is the
session; one found without (TinyFish lists none) is named, with how it ends; nothing is
ever re-created.

Every creating tool goes through here: the agent tools (``create_runs``), the stream of
``run_web_automation`` (``find_runs`` and ``lost_runs_error`` from ``_watch``) and
``create_browser_session`` (``create_session``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from ..upstream.deadline import Deadline, current_deadline
from ..upstream.errors import UpstreamError
from ..upstream.providers import ListedSession
from .context import ToolDeps
from .errors import balance_note, is_credit_error, tool_error
from .surface import served

if TYPE_CHECKING:
    from ..upstream.models import Run, RunRequest

__all__ = [
    "Lookup",
    "NotStartedError",
    "Recovered",
    "create_runs",
    "create_session",
    "find_runs",
    "lost_runs_error",
    "not_started_error",
    "recovery_reserve",
    "utcnow",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Our clock and the service's may disagree a little: look this far before the send.
LOOKBACK = timedelta(seconds=30)
# Runs listed per page while looking, and pages at most (a batch holds up to 100 runs).
PAGE = 100
MAX_PAGES = 3
# Time a create keeps back from its deadline to look for what it may have created.
RESERVE = 5.0
_GOAL_QUERY_CHARS = 80
_GOAL_SHOWN_CHARS = 60


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def recovery_reserve(deadline: Deadline) -> float:
    """Seconds of ``deadline`` kept for the look-up after a lost answer (a quarter, at most 5 s)."""
    return min(RESERVE, deadline.seconds / 4)


@dataclass
class Lookup:
    """What a look for lost runs found: candidates per requested run, or why it could not look."""

    since: datetime
    candidates: list[list[Run]] = field(default_factory=list)
    shared: bool = False  # users share the key: list_runs shows a user only the runs recorded for them
    unsure: bool = False  # the look itself failed (the service or the owners' store could not be read)

    @property
    def recovered(self) -> list[str] | None:
        """The run ids, one per requested run, when each matched exactly one run."""
        if self.unsure or not self.candidates:
            return None
        if any(len(found) != 1 for found in self.candidates):
            return None
        ids = [found[0].run_id for found in self.candidates]
        return ids if len(set(ids)) == len(ids) else None


@dataclass
class Recovered(Generic[T]):
    """A create's outcome: the service's answer, or the run ids found after it was lost."""

    response: T | None = None
    run_ids: list[str] = field(default_factory=list)


def _same_url(a: str | None, b: str) -> bool:
    return (a or "").rstrip("/") == b.rstrip("/")


async def find_runs(deps: ToolDeps, key: str, requests: Sequence[RunRequest], sent_at: datetime) -> Lookup:
    """The runs created since ``sent_at`` (less the clock margin) matching each request's goal and URL."""
    from ..upstream.models import ListRunsParams  # the payload models load on first use, not at start-up

    since = sent_at - LOOKBACK
    lookup = Lookup(since=since)
    goal_filter = requests[0].goal[:_GOAL_QUERY_CHARS] if len({r.goal for r in requests}) == 1 else None
    rows: list[Run] = []
    cursor: str | None = None
    try:
        for _ in range(MAX_PAGES):
            page = await deps.client.list_runs(
                key,
                ListRunsParams(
                    goal=goal_filter,
                    created_after=_iso(since),
                    sort_direction="asc",
                    limit=PAGE,
                    cursor=cursor,
                ),
            )
            rows.extend(page.data)
            cursor = page.pagination.next_cursor if page.pagination else None
            if not cursor:
                break
    except UpstreamError as exc:
        log.warning("looking for runs after a lost create failed: %s", exc.code)
        lookup.unsure = True
        return lookup
    if deps.ownership is not None and rows:
        # Users share one key (jwt mode): a run already recorded for somebody is theirs, never
        # this caller's lost one, however alike its goal and URL.
        try:
            owned = await deps.ownership.store.recorded("run", [run.run_id for run in rows])
        except Exception:
            log.exception("looking for runs after a lost create: the owners could not be read")
            lookup.shared = lookup.unsure = True
            return lookup  # no candidates: nothing of anybody else's is ever claimed
        rows = [run for run in rows if run.run_id not in owned]
    lookup.shared = deps.ownership is not None
    taken: set[str] = set()
    for request in requests:
        found = [
            run
            for run in rows
            if run.goal == request.goal and _same_url(run.url, request.url) and run.run_id not in taken
        ]
        if len(found) == 1:
            taken.add(found[0].run_id)
        lookup.candidates.append(found)
    return lookup


def _list_runs_call(requests: Sequence[RunRequest], since: datetime) -> str:
    goals = {r.goal for r in requests}
    goal = f"goal={next(iter(goals))[:_GOAL_SHOWN_CHARS]!r}, " if len(goals) == 1 else ""
    return f"list_runs({goal}created_after='{_iso(since)}')"


def lost_runs_error(
    cause: UpstreamError | str,
    requests: Sequence[RunRequest],
    lookup: Lookup,
    *,
    action: str = "starting the run",
    what: str = "the run",
) -> ToolError:
    """The error for a create whose answer was lost and whose runs could not be told apart."""
    reason = cause if isinstance(cause, str) else str(cause).rstrip(".")
    parts = [
        f"TinyFish failed while {action} ({reason}), but it may have started {what} anyway (runs are billed)."
    ]
    seen = sorted({run.run_id for found in lookup.candidates for run in found})
    if seen:
        parts.append(f"Runs that match: {', '.join(seen)}.")
    elif lookup.unsure:
        parts.append("Looking for it failed too.")
    else:
        parts.append("It is not listed yet (it can take a moment to appear).")
    if lookup.shared:
        # It is recorded for nobody, so this user's list_runs cannot show it: only an operator can.
        parts.append(
            "Do NOT start it again. It is not yet recorded as yours, so list_runs will not show it: "
            "ask this server's operator, who can find it with `tinyfish-mcp admin unowned`."
        )
    else:
        parts.append(
            f"Do NOT start it again: find it with {_list_runs_call(requests, lookup.since)} "
            "and follow it with wait_for_run(run_id=...) or get_run."
        )
    return ToolError(" ".join(parts))


class NotStartedError(ToolError):
    """A create the service never acted on (refused, or never reached): nothing exists."""


async def not_started_error(exc: UpstreamError, *, action: str) -> NotStartedError:
    """A create the service never acted on: nothing exists, so calling again is safe.

    A refusal for lack of credit also names the caller's balance, as every billed tool does.
    """
    error = str(tool_error(exc, action=action))
    note = await balance_note() if is_credit_error(exc) else None
    if note:
        error = f"{error} {note}"
    return NotStartedError(f"{error} Nothing was started or billed: TinyFish never accepted this request.")


async def _within_reserve(deadline: Deadline, create: Callable[[], Awaitable[T]]) -> T:
    with deadline.reserve(recovery_reserve(deadline)).applied():
        return await create()


async def create_runs(
    deps: ToolDeps,
    key: str,
    requests: Sequence[RunRequest],
    create: Callable[[], Awaitable[T]],
    *,
    action: str,
    what: str = "the run",
) -> Recovered[T]:
    """Send a run creation once; when its answer is lost, find the runs it created.

    Returns the service's answer, or the recovered run ids (one per request, in order).
    Raises a ``ToolError`` that says nothing was started (the service refused it), or
    that something may have been started and exactly how to find it.
    """
    deadline = current_deadline() or Deadline(deps.settings.mcp_create_deadline)
    sent_at = utcnow()
    with deadline.applied():
        try:
            return Recovered(response=await _within_reserve(deadline, create))
        except UpstreamError as exc:
            if not exc.may_have_been_processed:
                raise await not_started_error(exc, action=action) from None
            cause = exc
        log.warning("answer to a run creation lost (%s); looking for the run", cause.code)
        lookup = await find_runs(deps, key, requests, sent_at)
    ids = lookup.recovered
    if ids is None:
        raise lost_runs_error(cause, requests, lookup, action=action, what=what)
    log.info("recovered %d run(s) after a lost answer: %s", len(ids), ", ".join(ids))
    return Recovered(run_ids=ids)


async def create_session(
    deps: ToolDeps,
    key: str,
    create: Callable[[], Awaitable[T]],
    *,
    timeout_seconds: int,
    find: Callable[[datetime], Awaitable[list[ListedSession]]] | None = None,
    rebuild: Callable[[ListedSession], T] | None = None,
) -> T:
    """Send a browser-session creation once; a lost answer is looked for, never re-sent.

    ``find(since)`` lists the sessions created since then that this server does not know
    (None: the listing would show other users' sessions, so it is not used); ``rebuild``
    turns one found with its connection URL into the answer.
    """
    deadline = current_deadline() or Deadline(deps.settings.mcp_create_deadline)
    sent_at = utcnow()
    with deadline.applied():
        try:
            return await _within_reserve(deadline, create)
        except UpstreamError as exc:
            if not exc.may_have_been_processed:
                raise await not_started_error(exc, action="creating the browser session") from None
            cause = exc
        log.warning("answer to a browser-session creation lost (%s); looking for the session", cause.code)
        found: list[ListedSession] | None = None
        if find is not None:
            try:
                found = await find(sent_at - LOOKBACK)
            except UpstreamError as exc:
                log.warning("looking for a lost browser session failed: %s", exc.code)
    reason = str(cause).rstrip(".")
    if found and len(found) == 1 and found[0].cdp_url and rebuild is not None:
        log.info("recovered browser session %s after a lost answer", found[0].session_id)
        return rebuild(found[0])
    billed = f"billed until {timeout_seconds} s without activity"
    if found:
        ids = ", ".join(s.session_id for s in found)
        raise ToolError(
            f"TinyFish created browser session {ids} ({billed}) but its answer was lost ({reason}), "
            "and its connection URL cannot be recovered: the listing does not give it. Do NOT create "
            "another one just to be sure. Nothing has to be closed by hand: it ends by itself after "
            f"{timeout_seconds} s without CDP activity (nothing connects to it). Create a new one only "
            "if you still need a browser."
        ) from None
    listing = (
        "list_browser_sessions(status='running') shows whether one was created"
        if served("list_browser_sessions")
        else "the account's browser usage shows whether one was created"
    )
    raise ToolError(
        f"TinyFish may have created a browser session ({billed}) although its answer was lost ({reason}). "
        f"It is not listed yet. Do NOT create another one just to be sure: {listing}; an unused one ends "
        "by itself after its timeout. Create a new one only if you still need a browser."
    ) from None
