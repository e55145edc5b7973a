"""/metrics: behind its own token; counters move on tool calls, upstream failures and OAuth refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import httpx2
from hosted import SECRET, serve_oauth
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "metrics-test-token-" + "m" * 20


def _scrape(url: str) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


def _total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (n, got), value in samples.items() if n == name and wanted <= got)


async def test_metrics_count_calls_failures_and_refusals_and_carry_no_secret(
    emulator: Any, tmp_path: Path
) -> None:
    with serve_oauth(
        emulator.base_url,
        tmp_path,
        mcp_metrics_token=METRICS_TOKEN,
    ) as served:
        assert httpx.get(f"{served.url}/metrics", timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert httpx.get(f"{served.url}/metrics", headers=wrong, timeout=10).status_code == 401
        _, before = _scrape(served.url)

        async with (
            httpx2.AsyncClient(headers={"X-API-Key": emulator.api_key}, timeout=30) as http,
            Client(streamable_http_client(served.mcp_url, http_client=http)) as client,
        ):
            listed = await client.call_tool("list_runs", {"limit": 1})
            missing = await client.call_tool("get_run", {"id": "run-that-does-not-exist"})
        assert not listed.is_error and missing.is_error
        # OAuth refusals: an unknown client at /token, no credentials at /mcp.
        token = httpx.post(
            f"{served.url}/token",
            data={"grant_type": "authorization_code", "code": "nope", "client_id": "nobody"},
            timeout=10,
        )
        assert token.status_code in (400, 401)
        assert httpx.post(served.mcp_url, json={}, timeout=10).status_code == 401

        text, after = _scrape(served.url)

    def moved(name: str, **labels: str) -> float:
        return _total(after, name, **labels) - _total(before, name, **labels)

    assert moved("tinyfish_mcp_tool_calls_total", tool="list_runs", outcome="ok") == 1
    assert moved("tinyfish_mcp_tool_calls_total", tool="get_run", outcome="error") == 1
    assert moved("tinyfish_mcp_tool_call_seconds_count", tool="list_runs") == 1
    assert moved("tinyfish_mcp_upstream_requests_total", status="404", attempt="1") >= 1
    assert moved("tinyfish_mcp_upstream_requests_total", status="200") >= 1
    refusal = token.json()["error"]
    assert moved("tinyfish_mcp_oauth_events_total", event="refusal", reason=f"token:{refusal}") == 1
    assert moved("tinyfish_mcp_oauth_events_total", event="refusal", reason="mcp:401") == 1
    assert _total(after, "tinyfish_mcp_build_info") == 1
    for secret in (emulator.api_key, SECRET, METRICS_TOKEN, "run-that-does-not-exist", "nope"):
        assert secret not in text


async def test_workers_share_their_counts(emulator: Any, tmp_path: Path) -> None:
    from _mcp import result_json
    from test_workers import _server

    env = {
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_API_KEY": emulator.api_key,
        "TINYFISH_MCP_METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    with _server("--auth", "none", "--workers", "2", env=env) as (_, url):
        for _ in range(4):
            async with Client(streamable_http_client(f"{url}/mcp")) as client:
                result_json(await client.call_tool("list_runs", {"limit": 1}))
        # Whichever worker answers the scrape, it sums every worker's counts.
        for _ in range(3):
            text, samples = _scrape(url)
            assert _total(samples, "tinyfish_mcp_tool_calls_total", tool="list_runs", outcome="ok") == 4
        assert emulator.api_key not in text and METRICS_TOKEN not in text


async def test_the_browser_session_gauge_follows_create_and_close(
    chromium_emulator: Any, tmp_path: Path
) -> None:
    from _mcp import result_json

    emulator = chromium_emulator  # real browsers: closing one is a CDP Browser.close

    gauge = "tinyfish_mcp_browser_sessions"
    with serve_oauth(
        emulator.base_url,
        tmp_path,
        mcp_metrics_token=METRICS_TOKEN,
    ) as served:
        _, before = _scrape(served.url)
        async with (
            httpx2.AsyncClient(headers={"X-API-Key": emulator.api_key}, timeout=30) as http,
            Client(streamable_http_client(served.mcp_url, http_client=http)) as client,
        ):
            opened = [result_json(await client.call_tool("create_browser_session", {})) for _ in range(2)]
            _, during = _scrape(served.url)
            closed = await client.call_tool("close_browser_session", {"session_id": opened[0]["session_id"]})
            assert not closed.is_error
            _, after_one = _scrape(served.url)
            await client.call_tool("close_browser_session", {"session_id": opened[1]["session_id"]})
            # Closing one again changes nothing: it was uncounted when it closed.
            await client.call_tool("close_browser_session", {"session_id": opened[0]["session_id"]})
            _, after = _scrape(served.url)

    assert _total(during, gauge) - _total(before, gauge) == 2
    assert _total(after_one, gauge) - _total(before, gauge) == 1
    assert _total(after, gauge) == _total(before, gauge)


async def test_workers_sum_the_browser_session_gauge_whichever_worker_closes(
    chromium_emulator: Any, tmp_path: Path
) -> None:
    """Two workers on one socket: a session opened by one may be closed by the other."""
    from _mcp import result_json
    from test_workers import _server

    emulator, gauge = chromium_emulator, "tinyfish_mcp_browser_sessions"
    env = {
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_MCP_SECRET": SECRET,
        "TINYFISH_MCP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'oauth.db'}",
        "TINYFISH_MCP_METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),  # its own: it reads every *.db there
    }
    (tmp_path / "metrics").mkdir()

    async def call(url: str, tool: str, arguments: dict[str, Any]) -> Any:
        # A new connection each time, so the calls spread over both workers.
        async with (
            httpx2.AsyncClient(headers={"X-API-Key": emulator.api_key}, timeout=30) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            return await client.call_tool(tool, arguments)

    with _server("--auth", "oauth", "--workers", "2", env=env) as (_, url):
        opened = [result_json(await call(url, "create_browser_session", {})) for _ in range(4)]
        assert _total(_scrape(url)[1], gauge) == 4
        for session in opened:
            closed = await call(url, "close_browser_session", {"session_id": session["session_id"]})
            assert not closed.is_error
        for _ in range(3):  # whichever worker answers the scrape
            assert _total(_scrape(url)[1], gauge) == 0
