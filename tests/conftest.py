"""Shared fixtures: one TinyFish emulator per test session, reset before every test.

``emulator`` gives the base URL, the keys it accepts, and sync helpers for the control
API (``fault``, ``requests``, ``run``). Time is scaled so the 10-minute run limit is
0.6 s and scripted steps take a few hundredths of a second.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pg
import pytest
from _browsers import require_chromium
from _servers import Answer, loopback_site

from tinyfish_mcp.emulator import EmulatorConfig, EmulatorHandle, serve_in_thread

# Servers started by tests (in process or as subprocesses) keep their session_id file and the
# none mode's shared database in a directory of this test session, never in the user's own.
_STATE = tempfile.mkdtemp(prefix="tfmcp-tests-")
os.environ.setdefault("TINYFISH_MCP_STATE_DIR", _STATE)
os.environ.setdefault("TINYFISH_MCP_DATABASE_URL", f"sqlite+aiosqlite:///{_STATE}/shared.db")

API_KEY = "sk-tinyfish-emulator"
OTHER_KEY = "sk-tinyfish-other-user"
NO_CREDIT_KEY = "sk-tinyfish-no-credit"


@dataclass
class Emulator:
    """A test's view of the session emulator (already reset for this test)."""

    base_url: str
    api_key: str
    other_key: str
    no_credit_key: str
    handle: EmulatorHandle
    http: httpx.Client  # one pooled client for the whole session: cheap control calls

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.base_url}/_emulator{path}", json=body)
        response.raise_for_status()
        return response.json()

    def fault(
        self,
        path: str,
        *,
        method: str | None = None,
        count: int = 1,
        status: int | None = None,
        delay: float | None = None,
        hang: bool = False,
        drop_after: int | None = None,
        malformed_after: int | None = None,
        drop: bool = False,
        after: bool = False,
        retry_after: float | None = None,
        retry_after_date: bool = False,
    ) -> dict[str, Any]:
        """Make the next ``count`` requests to ``path`` (``*`` wildcards) misbehave.

        ``after=True`` lets the request be processed first (the run is created), then
        applies the fault to the answer; see ``tinyfish_mcp/emulator/faults.py``.
        """
        body = {
            "path": path,
            "method": method,
            "count": count,
            "status": status,
            "delay": delay,
            "hang": hang,
            "drop_after": drop_after,
            "malformed_after": malformed_after,
            "drop": drop,
            "after": after,
            "retry_after": retry_after,
            "retry_after_date": retry_after_date,
        }
        result: dict[str, Any] = self._control("POST", "/faults", body)
        return result

    def requests(self) -> list[dict[str, Any]]:
        """Every API request received since the reset: method, path, query, key_suffix, body."""
        result: list[dict[str, Any]] = self._control("GET", "/requests")
        return result

    def run(self, run_id: str) -> dict[str, Any]:
        """The emulator's view of a run, including ``cancel_requested`` and ``owner_key_suffix``."""
        result: dict[str, Any] = self._control("GET", f"/runs/{run_id}")
        return result

    def read(self, path: str) -> dict[str, Any]:
        """GET ``path`` of the emulated API with the test's key, as a client of TinyFish would."""
        response = self.http.get(f"{self.base_url}{path}", headers={"X-API-Key": self.api_key})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        self._control("POST", "/reset")

    def browser(self, session_id: str) -> dict[str, Any]:
        """The emulator's view of a browser session: ``real``, ``pid``, ``alive``, ``end_reason``."""
        result: dict[str, Any] = self._control("GET", f"/browser/{session_id}")
        return result


@pytest.fixture(scope="session")
def _control_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorHandle]:
    config = EmulatorConfig(
        api_keys=(API_KEY, OTHER_KEY),
        no_credit_keys=(NO_CREDIT_KEY,),
        time_scale=0.001,
        step_delay=0.02,
        heartbeat_interval=0.05,
        navigation_delay=0.05,
        # Stand-in browser sessions here: the tests of real ones start their own emulator
        # (``chromium_emulator``), so that no other test spawns a browser.
        real_browsers=False,
    )
    with serve_in_thread(config) as handle:
        yield handle


def _fresh(handle: EmulatorHandle, control: httpx.Client) -> Emulator:
    """The test's view of a running emulator, reset: no runs, sessions, faults or requests."""
    emu = Emulator(
        base_url=handle.base_url,
        api_key=API_KEY,
        other_key=OTHER_KEY,
        no_credit_key=NO_CREDIT_KEY,
        handle=handle,
        http=control,
    )
    emu.reset()
    return emu


@pytest.fixture
def emulator(emulator_server: EmulatorHandle, _control_http: httpx.Client) -> Emulator:
    return _fresh(emulator_server, _control_http)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    """One throwaway PostgreSQL server for the whole session, started on first use (``pg.py``).

    Parametrized tests only ask for it where ``pg.DATABASES`` has "postgres"; a test that
    asks for it outright fails under ``CI=true`` when PostgreSQL is missing, else skips.
    """
    if pg.find_bindir() is None:
        message = "PostgreSQL's server programs are not installed (.ci/run installs them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    with pg.running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def chromium_server() -> Iterator[EmulatorHandle]:
    """An emulator whose browser sessions are real headless Chromium processes (real time)."""
    require_chromium()
    config = EmulatorConfig(api_keys=(API_KEY, OTHER_KEY), no_credit_keys=(NO_CREDIT_KEY,))
    with serve_in_thread(config) as handle:
        yield handle


@pytest.fixture
def chromium_emulator(chromium_server: EmulatorHandle, _control_http: httpx.Client) -> Emulator:
    """``emulator``, but every browser session is a real Chromium (reset kills them)."""
    return _fresh(chromium_server, _control_http)


def _cookie_page(path: str, headers: Mapping[str, str]) -> Answer:
    """A page that sets a cookie at /login and shows the cookies it is sent."""
    seen = headers.get("Cookie", "")
    body = f"<!DOCTYPE html><title>cookies</title><p id=seen>{seen}</p>".encode()
    sets = {"Set-Cookie": "signed_in=yes; Max-Age=3600; Path=/"} if path == "/login" else {}
    return "text/html", body, sets


@pytest.fixture(scope="module")
def cookie_site() -> Iterator[str]:
    with loopback_site(_cookie_page) as origin:
        yield origin
