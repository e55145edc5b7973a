"""Every upstream fault on every creating and reading path, through a real MCP client.

For each (fault, path) cell the server runs in-process against the emulator with small
deadlines, the emulator misbehaves once (or persistently), and the test asserts what a
user relies on:

* **an answer within the deadline** (plus a fixed slack for process scheduling);
* **no duplicate creation**: the emulator never holds more runs or sessions than asked for;
* **no lost id**: whatever exists is in the result, or the error says exactly how to find
  it (``list_runs(...)``) and not to start it again; a browser session whose answer was
  lost is found in the session listing and named in the error (with how it ends);
* **no invitation to a blind retry**: an error on a creating path that mentions trying
  again also says that nothing was started; a rate limit says to wait;
* the expected outcome: a recoverable fault is recovered (the run is followed, or its id
  returned); the others are errors that say why.

The cells are generated from two tables (``FAULTS`` x ``PATHS``); nothing is copied.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from _mcp import memory_server, result_text

Outcome = Literal["ok", "error"]
Kind = Literal["run", "batch", "session", "read"]

SHOP = "https://scraping-sandbox.example.com/"
# Small deadlines keep the matrix quick; the figures appear in the errors.
READ_DEADLINE = 2.0
CREATE_DEADLINE = 3.0
WINDOW = 3.0
SLACK = 4.0  # scheduling on a busy 2-core machine; a hang without a deadline takes 30 s or more
SETTINGS: dict[str, Any] = {
    "mcp_read_deadline": READ_DEADLINE,
    "mcp_search_deadline": READ_DEADLINE,
    "mcp_fetch_deadline": READ_DEADLINE,
    "mcp_create_deadline": CREATE_DEADLINE,
    "mcp_call_window": WINDOW,
}


@dataclass(frozen=True)
class Path:
    """One tool and the upstream request its faults are aimed at."""

    tool: str
    kind: Kind
    method: str
    upstream: str
    args: Callable[[dict[str, Any]], dict[str, Any]]
    deadline: float
    asked: int = 1  # runs or sessions the call asks for

    @property
    def creates(self) -> bool:
        return self.kind != "read"


@dataclass(frozen=True)
class Fault:
    """A misbehaviour and what each kind of path must make of it."""

    name: str
    spec: dict[str, Any] | None  # emulator.fault(...) arguments; None: nothing listens at all
    run: Outcome  # the agent tools (run-sse, async, batch)
    session: Outcome
    read: Outcome
    sse_only: bool = False
    deadline: bool = False  # the error must quote the deadline
    rate_limited: bool = False
    refused: bool = False  # the request provably never reached the service
    unauthorised: bool = False

    def outcome(self, path: Path) -> Outcome:
        if path.kind in ("run", "batch"):
            return self.run
        return self.session if path.kind == "session" else self.read


def _run_args(_: dict[str, Any]) -> dict[str, Any]:
    return {"url": SHOP, "goal": "Find the price of the first product"}


PATHS = [
    Path("run_web_automation", "run", "POST", "/v1/automation/run-sse", _run_args, WINDOW),
    Path("run_web_automation_async", "run", "POST", "/v1/automation/run-async", _run_args, CREATE_DEADLINE),
    Path(
        "batch_create",
        "batch",
        "POST",
        "/v1/automation/run-batch",
        lambda _: {"runs": [{"url": SHOP, "goal": "First goal"}, {"url": SHOP, "goal": "Second goal"}]},
        CREATE_DEADLINE,
        asked=2,
    ),
    Path("get_run", "read", "GET", "/v1/runs/*", lambda ctx: {"id": ctx["run_id"]}, READ_DEADLINE),
    Path("fetch_content", "read", "POST", "/v1/fetch", lambda _: {"urls": [SHOP]}, READ_DEADLINE),
    Path("search", "read", "GET", "/v1/search", lambda _: {"query": "python"}, READ_DEADLINE),
    Path("create_browser_session", "session", "POST", "/v1/browser", lambda _: {}, CREATE_DEADLINE),
]

FAULTS = [
    Fault("429-once", {"status": 429}, run="ok", session="ok", read="ok"),
    Fault("429-retry-after-seconds", {"status": 429, "retry_after": 0.3}, run="ok", session="ok", read="ok"),
    Fault(
        "429-retry-after-past-deadline",
        {"status": 429, "retry_after": 120},
        run="error",
        session="error",
        read="error",
        rate_limited=True,
    ),
    Fault(
        "429-retry-after-http-date",
        {"status": 429, "retry_after": 120, "retry_after_date": True},
        run="error",
        session="error",
        read="error",
        rate_limited=True,
    ),
    Fault("5xx-once", {"status": 502}, run="error", session="error", read="ok"),
    Fault("5xx-after-processing", {"status": 502, "after": True}, run="ok", session="error", read="ok"),
    Fault("5xx-persistent", {"status": 503, "count": 50}, run="error", session="error", read="error"),
    Fault("connection-refused", None, run="error", session="error", read="error", refused=True),
    Fault("hang-before", {"hang": True}, run="error", session="error", read="error", deadline=True),
    Fault(
        "hang-after", {"hang": True, "after": True}, run="ok", session="error", read="error", deadline=True
    ),
    Fault("reset-after-processing", {"drop": True, "after": True}, run="ok", session="error", read="ok"),
    # Faults of the event stream: only run_web_automation reads one.
    Fault("stream-drop-before-first-event", {"drop_after": 0}, "ok", "ok", "ok", sse_only=True),
    Fault("stream-drop-after-3-events", {"drop_after": 3}, "ok", "ok", "ok", sse_only=True),
    Fault("malformed-event", {"malformed_after": 2}, "ok", "ok", "ok", sse_only=True),
    Fault("401", {"status": 401}, run="error", session="error", read="error", unauthorised=True),
]

CELLS = [
    pytest.param(fault, path, id=f"{fault.name}:{path.tool}")
    for fault in FAULTS
    for path in PATHS
    if not fault.sse_only or path.upstream.endswith("run-sse")
]

_RETRY = re.compile(
    r"\b(retry|try again|call again|send it again|start it again|create (it|one) again)\b", re.I
)
_NEGATION = re.compile(r"\b(not|never|don't|do not)\b[^.]{0,40}$", re.I)


def invites_blind_retry(text: str) -> bool:
    """True when the text suggests sending again without saying nothing was created."""
    for match in _RETRY.finditer(text):
        if _NEGATION.search(text[max(0, match.start() - 60) : match.start()]):
            continue
        if "Nothing was started or billed" in text:
            continue
        return True
    return False


@dataclass
class World:
    """What exists upstream, seen through the API with the test's key."""

    emulator: Any
    before_runs: set[str] = field(default_factory=set)

    def _get(self, path: str) -> dict[str, Any]:
        response = self.emulator.http.get(
            f"{self.emulator.base_url}{path}", headers={"X-API-Key": self.emulator.api_key}
        )
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def runs(self) -> set[str]:
        return {row["run_id"] for row in self._get("/v1/runs?limit=100")["data"]} - self.before_runs

    def sessions(self) -> set[str]:
        return {row["session_id"] for row in self._get("/v1/browser/usage?limit=100")["data"]}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _ids_in(data: dict[str, Any]) -> set[str]:
    found = set(data.get("run_ids") or [])
    for name in ("run_id", "session_id"):
        if data.get(name):
            found.add(data[name])
    return found


@pytest.mark.parametrize(("fault", "path"), CELLS)
async def test_fault_matrix(emulator: Any, fault: Fault, path: Path) -> None:
    world = World(emulator)
    context: dict[str, Any] = {}
    if path.tool == "get_run":
        created = httpx.post(
            f"{emulator.base_url}/v1/automation/run-async",
            headers={"X-API-Key": emulator.api_key},
            json={"url": SHOP, "goal": "an existing run"},
        ).json()
        context["run_id"] = created["run_id"]
        world.before_runs = {created["run_id"]}
    overrides = dict(SETTINGS)
    if fault.spec is None:
        dead = f"http://127.0.0.1:{_closed_port()}"
        overrides["base_url"] = dead
    else:
        spec = dict(fault.spec)
        emulator.fault(path.upstream, method=path.method, **spec)

    async with memory_server(emulator, **overrides) as client:
        started = time.monotonic()
        result = await client.call_tool(path.tool, path.args(context))
        elapsed = time.monotonic() - started
    text = result_text(result)

    # An answer within the deadline.
    assert elapsed < path.deadline + SLACK, f"answered after {elapsed:.1f} s: {text[:300]}"
    assert len(text) < 3000, "bounded"

    # No duplicate creation, and the create request itself was sent at most as the rule allows.
    runs, sessions = world.runs(), world.sessions()
    asked = path.asked if path.kind in ("run", "batch") else 0
    assert len(runs) <= asked, f"{len(runs)} runs exist for {asked} asked: {sorted(runs)}"
    assert len(sessions) <= (1 if path.kind == "session" else 0)
    creates = [r for r in emulator.requests() if r["method"] == path.method and r["path"] == path.upstream]
    if path.creates and fault.spec is not None and not fault.rate_limited and fault.name.startswith("429"):
        assert len(creates) == 2, "a refused create is sent again once the refusal passes"
    elif path.creates and fault.spec is not None:
        assert len(creates) == 1, "a create that may have been processed is never sent again"

    # The expected outcome.
    expected = fault.outcome(path)
    assert result.is_error == (expected == "error"), text[:600]

    # No lost id.
    made = runs | sessions
    if not result.is_error:
        data = result.structured_content or {}
        if path.creates:
            assert _ids_in(data) == made, f"result {data} vs created {made}"
    else:
        for created_id in made:
            found_by_id = created_id in text
            how = "list_runs(" in text
            found_by_listing = "Do NOT" in text and how and created_id not in sessions
            assert found_by_id or found_by_listing, f"{created_id} is lost: {text}"

    if not result.is_error:
        return
    # An error that is safe to act on.
    if path.creates:
        assert not invites_blind_retry(text), text
        if not (fault.refused or fault.rate_limited or fault.unauthorised):
            assert "Do NOT" in text, text
    if fault.rate_limited:
        assert "try again after" in text and re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), text
    if fault.deadline and path.kind == "read":
        assert f"within the {path.deadline:g} s deadline of this call" in text, text
    if fault.refused:
        assert overrides["base_url"].removeprefix("http://") in text and "never reached" in text, text
    if fault.unauthorised:
        assert "API key" in text, text
    if path.tool == "search":
        assert ("5 searches a minute" in text) == fault.rate_limited, text


# --------------------------------------------------------------------------- beyond the matrix


async def test_a_lost_answer_with_two_look_alike_runs_names_both_and_starts_none(emulator: Any) -> None:
    """When the look-up cannot tell which run the lost answer created, it guesses nothing."""
    earlier = httpx.post(
        f"{emulator.base_url}/v1/automation/run-async",
        headers={"X-API-Key": emulator.api_key},
        json=_run_args({}),
    ).json()["run_id"]
    emulator.fault("/v1/automation/run-async", method="POST", status=502, after=True)

    async with memory_server(emulator, **SETTINGS) as client:
        result = await client.call_tool("run_web_automation_async", _run_args({}))

    text = result_text(result)
    made = World(emulator, before_runs={earlier}).runs()
    assert result.is_error and len(made) == 1
    assert earlier in text and next(iter(made)) in text, "both candidates are named"
    assert "Do NOT start it again" in text and "list_runs(goal=" in text
    assert not invites_blind_retry(text)


async def test_wait_for_run_answers_within_its_window_against_a_hung_upstream(emulator: Any) -> None:
    run_id = httpx.post(
        f"{emulator.base_url}/v1/automation/run-async",
        headers={"X-API-Key": emulator.api_key},
        json=_run_args({}),
    ).json()["run_id"]
    emulator.fault("/v1/runs/*", method="GET", hang=True, count=20)

    async with memory_server(emulator, **SETTINGS) as client:
        started = time.monotonic()
        result = await client.call_tool("wait_for_run", {"run_id": run_id, "max_wait_seconds": 2})
        elapsed = time.monotonic() - started

    assert elapsed < 2 + SLACK
    assert result.is_error and "within the 2 s deadline of this call" in result_text(result)
