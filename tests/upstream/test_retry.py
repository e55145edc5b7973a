"""The retry decision, tested directly: it is a pure function of its inputs."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx2
import pytest

from tinyfish_mcp.settings import Settings
from tinyfish_mcp.upstream.retry import (
    RequestKind,
    RetryPolicy,
    backoff_delay,
    next_delay,
    parse_retry_after,
    should_retry,
    was_not_sent,
)

CREATE = RequestKind.CREATE
IDEMPOTENT = RequestKind.IDEMPOTENT
REQ = httpx2.Request("POST", "http://127.0.0.1/v1/automation/run-async")


def _connect_error() -> BaseException:
    return httpx2.ConnectError("refused", request=REQ)


NOT_SENT = [
    httpx2.ConnectError("refused", request=REQ),
    httpx2.ConnectTimeout("slow connect", request=REQ),
    httpx2.PoolTimeout("pool full", request=REQ),
]
MAYBE_SENT = [
    httpx2.ReadError("reset", request=REQ),
    httpx2.ReadTimeout("slow answer", request=REQ),
    httpx2.WriteError("broken pipe", request=REQ),
    httpx2.WriteTimeout("slow upload", request=REQ),
    httpx2.RemoteProtocolError("peer closed", request=REQ),
]


@pytest.mark.parametrize("kind", [CREATE, IDEMPOTENT])
@pytest.mark.parametrize("exc", NOT_SENT, ids=lambda e: type(e).__name__)
def test_unsent_requests_are_retried_whatever_their_kind(kind: RequestKind, exc: BaseException) -> None:
    assert should_retry(kind, 0, exc, max_retries=3) is True


@pytest.mark.parametrize("exc", MAYBE_SENT, ids=lambda e: type(e).__name__)
def test_a_creation_that_may_have_been_sent_is_never_resent(exc: BaseException) -> None:
    assert should_retry(CREATE, 0, exc, max_retries=3) is False
    assert should_retry(IDEMPOTENT, 0, exc, max_retries=3) is True


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_server_errors_retry_only_idempotent_requests(status: int) -> None:
    assert should_retry(CREATE, 0, status, max_retries=3) is False
    assert should_retry(IDEMPOTENT, 0, status, max_retries=3) is True


def test_rate_limit_is_retried_for_every_kind() -> None:
    assert should_retry(CREATE, 0, 429, max_retries=3) is True
    assert should_retry(IDEMPOTENT, 2, 429, max_retries=3) is True


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    assert should_retry(IDEMPOTENT, 0, status, max_retries=3) is False
    assert should_retry(CREATE, 0, status, max_retries=3) is False


def test_other_exceptions_are_not_retried() -> None:
    assert should_retry(IDEMPOTENT, 0, httpx2.UnsupportedProtocol("ftp", request=REQ), max_retries=3) is False
    assert should_retry(IDEMPOTENT, 0, ValueError("bug"), max_retries=3) is False


def test_attempts_stop_at_max_retries() -> None:
    assert should_retry(IDEMPOTENT, 2, 503, max_retries=3) is True
    assert should_retry(IDEMPOTENT, 3, 503, max_retries=3) is False
    assert should_retry(CREATE, 0, _connect_error(), max_retries=0) is False


def test_backoff_is_full_jitter_under_a_doubling_capped_step() -> None:
    rng = random.Random(7)
    for attempt, step in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        draws = [backoff_delay(attempt, initial=0.5, maximum=8.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= step for d in draws)
        # Full jitter really spreads the waits over the whole step.
        assert min(draws) < step * 0.2
        assert max(draws) > step * 0.8


def test_backoff_floor_is_added_to_the_jitter() -> None:
    rng = random.Random(3)
    draws = [backoff_delay(0, initial=1.0, maximum=8.0, floor=15.0, rng=rng) for _ in range(100)]
    assert all(15.0 <= d <= 16.0 for d in draws)
    assert backoff_delay(5, initial=0.0, maximum=8.0, floor=2.0) == 2.0


def test_search_429_waits_at_least_the_search_backoff() -> None:
    policy = RetryPolicy(max_retries=3, initial_backoff=0.5, max_backoff=8.0, search_rate_limit_backoff=15.0)
    rng = random.Random(1)
    delay = next_delay(policy, IDEMPOTENT, "search", 0, 429, 0.0, rng=rng)
    assert delay is not None and 15.0 <= delay <= 15.5
    # Other products and other failures of search use the plain backoff.
    other = next_delay(policy, IDEMPOTENT, "runs", 0, 429, 0.0, rng=rng)
    assert other is not None and other <= 0.5
    server = next_delay(policy, IDEMPOTENT, "search", 0, 503, 0.0, rng=rng)
    assert server is not None and server <= 0.5


def test_total_wait_budget_ends_the_retries() -> None:
    policy = RetryPolicy(max_retries=10, initial_backoff=1.0, max_backoff=1.0, max_total_wait=30.0)
    rng = random.Random(5)
    delay = next_delay(policy, IDEMPOTENT, "runs", 1, 503, 20.0, rng=rng)
    assert delay is not None and 0.0 <= delay <= 1.0
    # Nothing is left of the budget: any positive wait would cross it.
    assert next_delay(policy, IDEMPOTENT, "runs", 1, 503, 30.0, rng=rng) is None
    # A floor makes the outcome certain: 15 s more does not fit into what is left.
    policy = RetryPolicy(max_retries=10, search_rate_limit_backoff=15.0, max_total_wait=30.0)
    assert next_delay(policy, IDEMPOTENT, "search", 1, 429, 16.0, rng=rng) is None
    assert next_delay(policy, IDEMPOTENT, "search", 0, 429, 0.0, rng=rng) is not None


def test_next_delay_refuses_what_should_retry_refuses() -> None:
    policy = RetryPolicy()
    assert next_delay(policy, CREATE, "automation", 0, 500, 0.0) is None
    assert next_delay(policy, CREATE, "automation", 0, httpx2.ReadTimeout("x", request=REQ), 0.0) is None
    assert next_delay(policy, IDEMPOTENT, "runs", 0, 404, 0.0) is None
    assert next_delay(policy, CREATE, "automation", 0, 429, 0.0) is not None


def test_policy_comes_from_the_settings() -> None:
    settings = Settings(
        max_retries=5,
        retry_initial_backoff=0.2,
        retry_max_backoff=3.0,
        search_rate_limit_backoff=9.0,
        retry_max_total_wait=12.0,
    )
    assert RetryPolicy.from_settings(settings) == RetryPolicy(5, 0.2, 3.0, 9.0, 12.0)


# --------------------------------------------------------------------------- Retry-After and the deadline


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Sun, 29 Nov 2026 20:00:10 GMT", 10.0),
        ("Sun, 29 Nov 2026 19:59:00 GMT", 0.0),  # in the past: now
        ("-3", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, expected: float | None) -> None:
    now = datetime(2026, 11, 29, 20, 0, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_retry_after_replaces_the_backoff() -> None:
    policy = RetryPolicy(initial_backoff=0.01, max_backoff=0.02, max_total_wait=30)
    assert next_delay(policy, IDEMPOTENT, "runs", 0, 429, 0.0, retry_after=4.0) == 4.0
    assert next_delay(policy, CREATE, "automation", 0, 429, 0.0, retry_after=4.0) == 4.0


def test_no_wait_reaches_past_the_deadline_or_the_total_bound() -> None:
    policy = RetryPolicy(initial_backoff=0.01, max_backoff=0.02, max_total_wait=30)
    assert next_delay(policy, IDEMPOTENT, "runs", 0, 429, 0.0, retry_after=4.0, remaining=3.0) is None
    assert next_delay(policy, IDEMPOTENT, "runs", 0, 429, 0.0, retry_after=40.0) is None
    assert next_delay(policy, IDEMPOTENT, "runs", 0, 503, 0.0, remaining=0.0) is None
    assert next_delay(policy, IDEMPOTENT, "runs", 0, 503, 0.0, remaining=5.0) is not None


def test_a_refused_connection_was_not_sent_a_timeout_may_have_been() -> None:
    assert was_not_sent(httpx2.ConnectError("refused", request=REQ))
    assert not was_not_sent(httpx2.ReadTimeout("slow", request=REQ))
    assert not was_not_sent(503)
