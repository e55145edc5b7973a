"""Client behaviour at the transport seam (``httpx2.MockTransport``): failures the emulator
cannot produce on demand — a reset after sending, an undecodable body, a bad header value.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx2
import pytest

from tinyfish_mcp.settings import Settings
from tinyfish_mcp.upstream.client import TinyFishClient
from tinyfish_mcp.upstream.errors import (
    AuthenticationError,
    InvalidInputError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from tinyfish_mcp.upstream.models import ListRunsParams, RunBatchRequest, RunRequest, SearchParams

KEY = "sk-tinyfish-transport-secret-0001"
BASE = "http://tinyfish.test"
REQUEST = RunRequest(url="https://shop.example.com/", goal="Find the price")

Handler = Callable[[httpx2.Request], httpx2.Response]


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "base_url": BASE,
        "max_retries": 3,
        "retry_initial_backoff": 0.001,
        "retry_max_backoff": 0.002,
        "search_rate_limit_backoff": 0.001,
        "retry_max_total_wait": 1.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class Recorder:
    """A transport that answers from a script and remembers what it was sent."""

    def __init__(self, *steps: Handler) -> None:
        self.steps = list(steps)
        self.seen: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        step = self.steps[min(len(self.seen), len(self.steps)) - 1]
        return step(request)


def _raise(exc_type: type[httpx2.TransportError]) -> Handler:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise exc_type("simulated", request=request)

    return handler


def _json(status: int, body: object, **kw: object) -> Handler:
    return lambda request: httpx2.Response(status, json=body, **kw)  # type: ignore[arg-type]


RUN = {"run_id": "r-1", "status": "COMPLETED", "steps": []}


@asynccontextmanager
async def _client(recorder: Recorder, **overrides: object) -> AsyncIterator[TinyFishClient]:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(recorder))
    async with http, TinyFishClient(_settings(**overrides), http=http) as client:
        yield client


def _assert_no_key(exc: BaseException) -> None:
    assert KEY not in str(exc)
    assert KEY not in repr(exc)
    if isinstance(exc, UpstreamError):
        assert KEY not in exc.message and KEY not in exc.hint


@pytest.mark.parametrize("exc_type", [httpx2.ReadError, httpx2.RemoteProtocolError, httpx2.WriteError])
async def test_creation_dropped_after_sending_is_not_resent(exc_type: type[httpx2.TransportError]) -> None:
    recorder = Recorder(_raise(exc_type), _json(200, {"run_id": "r-2"}))
    async with _client(recorder) as client:
        with pytest.raises(UpstreamConnectionError) as info:
            await client.run_async(KEY, REQUEST)
    assert len(recorder.seen) == 1
    assert info.value.status is None
    _assert_no_key(info.value)


async def test_creation_read_timeout_is_not_resent() -> None:
    recorder = Recorder(_raise(httpx2.ReadTimeout), _json(200, {"run_id": "r-2"}))
    async with _client(recorder) as client:
        with pytest.raises(UpstreamTimeoutError):
            await client.run_batch(KEY, RunBatchRequest(runs=[REQUEST]))
    assert len(recorder.seen) == 1


async def test_creation_that_never_connected_is_retried() -> None:
    recorder = Recorder(
        _raise(httpx2.ConnectError), _raise(httpx2.ConnectTimeout), _json(200, {"run_id": "r-9"})
    )
    async with _client(recorder) as client:
        created = await client.run_async(KEY, REQUEST)
    assert created.run_id == "r-9"
    assert len(recorder.seen) == 3


@pytest.mark.parametrize("exc_type", [httpx2.ReadError, httpx2.RemoteProtocolError, httpx2.ReadTimeout])
async def test_idempotent_read_is_retried_after_a_drop(exc_type: type[httpx2.TransportError]) -> None:
    recorder = Recorder(_raise(exc_type), _json(200, RUN))
    async with _client(recorder) as client:
        run = await client.get_run(KEY, "r-1")
    assert run.run_id == "r-1"
    assert len(recorder.seen) == 2


async def test_connection_failures_exhaust_into_a_connection_error() -> None:
    recorder = Recorder(_raise(httpx2.ConnectError))
    async with _client(recorder, max_retries=2) as client:
        with pytest.raises(UpstreamConnectionError) as info:
            await client.get_run(KEY, "r-1")
    assert len(recorder.seen) == 3
    assert "ConnectError" in str(info.value)
    _assert_no_key(info.value)


async def test_server_error_on_creation_raises_typed_error_once() -> None:
    body = {"error": {"code": "INTERNAL_ERROR", "message": "boom"}}
    recorder = Recorder(_json(502, body, headers={"x-request-id": "req-42"}))
    async with _client(recorder) as client:
        with pytest.raises(ServerError) as info:
            await client.run(KEY, REQUEST)
    assert len(recorder.seen) == 1
    assert (info.value.status, info.value.code, info.value.request_id) == (502, "INTERNAL_ERROR", "req-42")


async def test_headers_carry_key_agent_and_accept() -> None:
    recorder = Recorder(_json(200, RUN))
    async with _client(recorder) as client:
        await client.get_run(KEY, "r-1")
    sent = recorder.seen[0]
    assert sent.headers["X-API-Key"] == KEY
    assert sent.headers["User-Agent"].startswith("tinyfish-mcp/")
    assert sent.headers["Accept"] == "application/json"


async def test_empty_key_sends_no_key_header() -> None:
    recorder = Recorder(_json(200, RUN))
    async with _client(recorder) as client:
        await client.get_run("", "r-1")
    assert "X-API-Key" not in recorder.seen[0].headers


async def test_a_key_that_cannot_be_a_header_is_refused_without_echo() -> None:
    bad_key = KEY + "\u00e9\n"
    recorder = Recorder(_json(200, RUN))
    async with _client(recorder) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_run(bad_key, "r-1")
    assert recorder.seen == []
    _assert_no_key(info.value)
    assert info.value.code == "INVALID_API_KEY"


async def test_success_body_that_is_not_json_is_a_protocol_error() -> None:
    recorder = Recorder(lambda r: httpx2.Response(200, text="<html>gateway</html>"))
    async with _client(recorder) as client:
        with pytest.raises(UpstreamProtocolError) as info:
            await client.search(KEY, SearchParams(query="x"))
    assert "not JSON" in str(info.value)


async def test_success_body_of_the_wrong_shape_is_a_protocol_error() -> None:
    recorder = Recorder(_json(200, {"status": "COMPLETED"}))  # run_id missing
    async with _client(recorder) as client:
        with pytest.raises(UpstreamProtocolError) as info:
            await client.get_run(KEY, "r-1")
    assert "run_id" in str(info.value)


async def test_redirects_are_not_followed_even_by_a_shared_client() -> None:
    # A followed redirect would carry X-API-Key to wherever the Location points.
    recorder = Recorder(lambda r: httpx2.Response(302, headers={"location": "https://elsewhere.test/"}))
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(recorder), follow_redirects=True) as http:
        client = TinyFishClient(_settings(), http=http)
        with pytest.raises(UpstreamProtocolError) as info:
            await client.list_vault_items(KEY)
    assert info.value.status == 302
    assert [str(r.url) for r in recorder.seen] == [f"{BASE}/v1/vault/items"]


async def test_error_body_that_is_plain_text_still_gives_a_typed_error() -> None:
    recorder = Recorder(lambda r: httpx2.Response(404, text="no such route"))
    async with _client(recorder) as client:
        with pytest.raises(UpstreamError) as info:
            await client.list_vault_connections(KEY)
    assert info.value.status == 404
    assert "no such route" in info.value.message


async def test_an_echoed_key_is_scrubbed_from_the_message() -> None:
    body = {"error": {"code": "INVALID_API_KEY", "message": f"key {KEY} is unknown"}}
    recorder = Recorder(_json(401, body))
    async with _client(recorder) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_run(KEY, "r-1")
    _assert_no_key(info.value)
    assert "[redacted]" in str(info.value)


async def test_run_ids_are_escaped_into_one_path_segment() -> None:
    recorder = Recorder(_json(200, RUN))
    async with _client(recorder) as client:
        await client.get_run(KEY, "../browser")
        with pytest.raises(InvalidInputError):
            await client.cancel_run(KEY, "  ")
        with pytest.raises(InvalidInputError):
            await client.get_runs(KEY, [])
    assert [r.url.raw_path for r in recorder.seen] == [b"/v1/runs/..%2Fbrowser"]


async def test_stream_that_is_not_an_event_stream_is_a_protocol_error() -> None:
    recorder = Recorder(_json(200, {"run_id": "r-1"}))
    async with _client(recorder) as client:
        with pytest.raises(UpstreamProtocolError):
            async with client.stream_run(KEY, REQUEST) as events:
                async for _ in events:
                    pass


async def test_browser_pages_keep_the_key_away_from_foreign_hosts() -> None:
    pages = [{"id": "p1", "type": "page", "url": "about:blank"}]
    recorder = Recorder(_json(200, pages))
    async with _client(recorder) as client:
        own = await client.list_browser_pages(KEY, f"{BASE}/_browser/br-1/")
        foreign = await client.list_browser_pages(KEY, "https://attacker.test/x")
        with pytest.raises(InvalidInputError):
            await client.list_browser_pages(KEY, "file:///etc/passwd")
    assert own[0].url == "about:blank" and foreign[0].id == "p1"
    assert [str(r.url) for r in recorder.seen] == [
        f"{BASE}/_browser/br-1/pages",
        "https://attacker.test/x/pages",
    ]
    assert recorder.seen[0].headers["X-API-Key"] == KEY
    assert "X-API-Key" not in recorder.seen[1].headers


async def test_production_routing_without_a_base_url() -> None:
    recorder = Recorder(_json(200, {"query": "q", "results": []}), _json(200, []))
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(recorder)) as http:
        client = TinyFishClient(Settings(), http=http)
        await client.search(KEY, SearchParams(query="q"))
        pages = await client.list_browser_pages(KEY, "https://x1.browser.tinyfish.ai/s")
        await client.aclose()
        assert not http.is_closed  # a pool handed in stays the caller's to close
    assert str(recorder.seen[0].url) == "https://api.search.tinyfish.ai/?query=q"
    assert str(recorder.seen[1].url) == "https://x1.browser.tinyfish.ai/s/pages"
    assert recorder.seen[1].headers["X-API-Key"] == KEY
    assert pages == []


async def test_session_urls_stay_out_of_messages() -> None:
    secret_path = "/_browser/br-session-secret"
    recorder = Recorder(_raise(httpx2.ConnectError))
    async with _client(recorder, max_retries=0) as client:
        with pytest.raises(UpstreamConnectionError) as info:
            await client.list_browser_pages(KEY, BASE + secret_path)
    assert "br-session-secret" not in str(info.value)
    assert "{session base_url}/pages" in str(info.value)


async def test_debug_logs_name_the_call_but_never_the_key(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(_json(503, {"error": {"code": "INTERNAL_ERROR", "message": "x"}}), _json(200, RUN))
    with caplog.at_level(logging.DEBUG, logger="tinyfish_mcp.upstream"):
        async with _client(recorder) as client:
            await client.get_run(KEY, "r-1")
    lines = [r.getMessage() for r in caplog.records if r.name == "tinyfish_mcp.upstream"]
    assert lines == [
        "tinyfish GET /v1/runs/r-1 -> 503 (attempt 1)",
        lines[1],
        "tinyfish GET /v1/runs/r-1 -> 200 (attempt 2)",
    ]
    assert lines[1].startswith("tinyfish GET /v1/runs/r-1: retry 1 in ")
    assert all(KEY not in r.getMessage() and KEY not in str(r.args) for r in caplog.records)


async def test_unauthorized_code_maps_to_authentication_error() -> None:
    body = {"error": {"code": "UNAUTHORIZED", "message": "Authentication failed"}}
    recorder = Recorder(_json(401, body))
    async with _client(recorder) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_runs(KEY, ListRunsParams())
    assert (info.value.code, info.value.status) == ("UNAUTHORIZED", 401)
    assert len(recorder.seen) == 1
