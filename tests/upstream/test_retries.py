"""The retry rule over real HTTP: the emulator's faults and its request log.

The log shows how many times a request really reached the service, which is what
"never re-send a run creation" is about.
"""

from __future__ import annotations

from typing import Any

import pytest

from tinyfish_mcp.upstream.client import TinyFishClient
from tinyfish_mcp.upstream.deadline import Deadline
from tinyfish_mcp.upstream.errors import (
    DeadlineExceededError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamTimeoutError,
)
from tinyfish_mcp.upstream.models import (
    BrowserSessionRequest,
    FetchRequest,
    ListRunsParams,
    RunBatchRequest,
    RunRequest,
    SearchParams,
)

from .conftest import ClientFactory

REQUEST = RunRequest(url="https://shop.example.com/", goal="Read the headline")
CREATIONS = ("/v1/automation/run", "/v1/automation/run-async", "/v1/automation/run-batch")


def _hits(emulator: Any, path: str, method: str | None = None) -> int:
    return sum(
        1 for r in emulator.requests() if r["path"] == path and (method is None or r["method"] == method)
    )


async def _create_run(client: TinyFishClient, key: str, request: RunRequest = REQUEST) -> str:
    created = await client.run_async(key, request)
    assert created.run_id is not None
    return created.run_id


async def test_get_run_retries_through_two_503s(client: TinyFishClient, emulator: Any) -> None:
    run_id = await _create_run(client, emulator.api_key)
    emulator.fault(f"/v1/runs/{run_id}", method="GET", status=503, count=2)
    run = await client.get_run(emulator.api_key, run_id)
    assert run.run_id == run_id
    assert _hits(emulator, f"/v1/runs/{run_id}") == 3


async def test_a_500_on_run_async_is_raised_and_never_resent(client: TinyFishClient, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-async", status=500)
    with pytest.raises(ServerError) as info:
        await client.run_async(emulator.api_key, REQUEST)
    assert info.value.status == 500
    assert _hits(emulator, "/v1/automation/run-async") == 1
    listed = await client.list_runs(emulator.api_key, ListRunsParams())
    assert listed.pagination.total == 0  # and so no second run was started behind the caller's back


@pytest.mark.parametrize("status", [502, 503])
async def test_no_creation_is_resent_after_a_server_error(
    client: TinyFishClient, emulator: Any, status: int
) -> None:
    emulator.fault("/v1/automation/*", status=status, count=3)
    emulator.fault("/v1/browser", status=status)
    for call in (
        client.run(emulator.api_key, REQUEST),
        client.run_async(emulator.api_key, REQUEST),
        client.run_batch(emulator.api_key, RunBatchRequest(runs=[REQUEST, REQUEST])),
        client.create_browser_session(emulator.api_key, BrowserSessionRequest()),
    ):
        with pytest.raises(ServerError):
            await call
    seen = [r["path"] for r in emulator.requests()]
    assert seen == [*CREATIONS, "/v1/browser"]


async def test_a_429_on_run_async_is_retried_and_creates_one_run(
    client: TinyFishClient, emulator: Any
) -> None:
    emulator.fault("/v1/automation/run-async", status=429)
    run_id = await _create_run(client, emulator.api_key)
    assert _hits(emulator, "/v1/automation/run-async") == 2
    listed = await client.list_runs(emulator.api_key, ListRunsParams())
    assert [run.run_id for run in listed.data] == [run_id]


async def test_a_429_on_run_batch_is_retried(client: TinyFishClient, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-batch", status=429, count=2)
    batch = await client.run_batch(emulator.api_key, RunBatchRequest(runs=[REQUEST]))
    assert len(batch.run_ids) == 1
    assert _hits(emulator, "/v1/automation/run-batch") == 3


async def test_a_creation_that_timed_out_is_not_resent(make_client: ClientFactory, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-async", hang=True)
    async with make_client(default_timeout=0.3) as client:
        with pytest.raises(UpstreamTimeoutError) as info:
            await client.run_async(emulator.api_key, REQUEST)
    assert info.value.status is None and info.value.code == "TIMEOUT"
    assert _hits(emulator, "/v1/automation/run-async") == 1


async def test_a_read_that_timed_out_is_retried(make_client: ClientFactory, emulator: Any) -> None:
    emulator.fault("/v1/runs", method="GET", hang=True, count=2)
    async with make_client(default_timeout=0.2) as client:
        listed = await client.list_runs(emulator.api_key, ListRunsParams(limit=5))
    assert listed.data == []
    assert _hits(emulator, "/v1/runs") == 3


async def test_retries_stop_at_max_retries(make_client: ClientFactory, emulator: Any) -> None:
    emulator.fault("/v1/runs/batch", status=503, count=10)
    async with make_client(max_retries=2) as client:
        with pytest.raises(ServerError):
            await client.get_runs(emulator.api_key, ["run-1"])
    assert _hits(emulator, "/v1/runs/batch") == 3


async def test_total_wait_bound_ends_the_retries(make_client: ClientFactory, emulator: Any) -> None:
    # Every search 429 waits at least 0.05 s; a 0.08 s budget fits one wait, not two.
    emulator.fault("/v1/search", status=429, count=10)
    async with make_client(
        max_retries=10,
        retry_initial_backoff=0.01,
        retry_max_backoff=0.01,
        search_rate_limit_backoff=0.05,
        retry_max_total_wait=0.08,
    ) as client:
        with pytest.raises(RateLimitError):
            await client.search(emulator.api_key, SearchParams(query="mugs"))
    assert _hits(emulator, "/v1/search") == 2


async def test_idempotent_calls_retry_through_server_errors(client: TinyFishClient, emulator: Any) -> None:
    slow = RunRequest(url="https://shop.example.com/?tf_scenario=slow", goal="Wait")
    run_id = await _create_run(client, emulator.api_key, slow)
    emulator.fault(f"/v1/runs/{run_id}/cancel", status=502)
    emulator.fault("/v1/runs/batch/cancel", status=500)
    emulator.fault("/v1/runs/batch", status=503)
    emulator.fault("/v1/search", status=500)
    emulator.fault("/v1/fetch", status=503)
    cancelled = await client.cancel_run(emulator.api_key, run_id)
    assert cancelled.run_id == run_id
    batch = await client.cancel_runs(emulator.api_key, [run_id])
    assert batch.data[0].status == "CANCELLED"
    got = await client.get_runs(emulator.api_key, [run_id])
    assert got.data[0].status == "CANCELLED"
    found = await client.search(emulator.api_key, SearchParams(query="tinyfish"))
    assert found.query == "tinyfish"
    page = f"{emulator.base_url}/_fixtures/article.html"
    fetched = await client.fetch(emulator.api_key, FetchRequest(urls=[page]))
    assert len(fetched.results) + len(fetched.errors) == 1
    for path in (f"/v1/runs/{run_id}/cancel", "/v1/runs/batch/cancel", "/v1/runs/batch"):
        assert _hits(emulator, path) == 2, path
    for path in ("/v1/search", "/v1/fetch"):
        assert _hits(emulator, path) == 2, path


async def test_client_errors_are_never_retried(client: TinyFishClient, emulator: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        await client.run_async(emulator.no_credit_key, REQUEST)
    emulator.fault("/v1/runs", status=400)
    with pytest.raises(Exception) as info:
        await client.list_runs(emulator.api_key, ListRunsParams())
    assert getattr(info.value, "status", None) == 400
    assert _hits(emulator, "/v1/automation/run-async") == 1
    assert _hits(emulator, "/v1/runs") == 1


# --------------------------------------------------------------------------- one deadline per call


async def test_a_hung_read_ends_at_the_deadline_with_the_figure(
    client: TinyFishClient, emulator: Any
) -> None:
    # Without a deadline this is attempts x read timeout (121 s with the defaults).
    run_id = await _create_run(client, emulator.api_key)
    emulator.fault(f"/v1/runs/{run_id}", method="GET", hang=True, count=10)
    with Deadline(0.5).applied(), pytest.raises(DeadlineExceededError) as info:
        await client.get_run(emulator.api_key, run_id)
    assert "within the 0.5 s deadline of this call" in str(info.value)
    assert info.value.may_have_been_processed


async def test_retry_after_is_honoured_within_the_deadline(client: TinyFishClient, emulator: Any) -> None:
    emulator.fault("/v1/runs", method="GET", status=503, retry_after=0.2)
    with Deadline(5).applied():
        await client.list_runs(emulator.api_key, ListRunsParams())
    assert _hits(emulator, "/v1/runs") == 2


async def test_retry_after_past_the_deadline_says_when(client: TinyFishClient, emulator: Any) -> None:
    emulator.fault("/v1/runs", method="GET", status=429, retry_after=90, retry_after_date=True)
    with Deadline(5).applied(), pytest.raises(RateLimitError) as info:
        await client.list_runs(emulator.api_key, ListRunsParams())
    assert info.value.retry_at is not None and info.value.retry_at in info.value.hint
    assert "past the 5 s deadline" in info.value.hint
    assert _hits(emulator, "/v1/runs") == 1


async def test_a_refused_connection_names_the_host_and_was_never_sent(make_client: ClientFactory) -> None:
    async with make_client(base_url="http://127.0.0.1:9") as tf:
        with pytest.raises(UpstreamConnectionError) as info:
            await tf.run_async("sk-test", REQUEST)
    assert "127.0.0.1:9" in str(info.value) and "never reached" in str(info.value)
    assert not info.value.may_have_been_processed
