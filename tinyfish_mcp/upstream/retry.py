"""When a failed request to TinyFish may be sent again, and how long to wait first.

THE RULE. A request that may already have created something billable — POST /run,
/run-async, /run-batch, /run-sse, or a browser session — is never re-sent blindly.
Batch creation has no idempotency key, and the service gives none for single runs,
so a second send of a request the service already processed starts a second run
(and bills it). Such a request is retried only when we *know* it was not processed:

* the connection could not be opened (``ConnectError`` / ``ConnectTimeout``, or no
  pooled connection became free — ``PoolTimeout``): not one byte was sent;
* the service answered 429: it explicitly refused the request.

A 5xx, a read timeout, or a connection that dropped after the request went out may all
come after the run was created, so for these we raise and let the caller look (list or
get the runs) instead of guessing. Idempotent requests — GETs, fetch, search, cancel,
batch cancel, batch get — are retried on all three kinds of failure.

Backoff is exponential with full jitter, capped; a 429 from the Search API starts at
``search_rate_limit_backoff`` (its documents ask for about 15 s). A ``Retry-After``
header (delta-seconds or an HTTP-date, :func:`parse_retry_after`) replaces the backoff:
the service said when, so we wait exactly that long. The sum of all waits of one call
stays within ``retry_max_total_wait``, and no wait may reach past the tool call's
deadline (``remaining``): when the next wait would cross either, the last error is
raised instead (the caller then says when to try again).

Everything here is pure (the random source is a parameter), so the rule is tested
directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2

from ..settings import Product, Settings
from .constants import RequestKind

__all__ = [
    "RequestKind",
    "RetryPolicy",
    "backoff_delay",
    "next_delay",
    "parse_retry_after",
    "should_retry",
    "was_not_sent",
]

Outcome = int | BaseException
"""What one attempt ended with: an HTTP status, or the exception raised while sending."""


# Failures after which the request certainly never reached the service.
_NOT_SENT: tuple[type[BaseException], ...] = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
# Failures after which it may or may not have been processed.
_MAYBE_SENT: tuple[type[BaseException], ...] = (
    httpx2.ReadError,
    httpx2.ReadTimeout,
    httpx2.WriteError,
    httpx2.WriteTimeout,
    httpx2.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """The retry bounds of one client, taken from the settings."""

    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    search_rate_limit_backoff: float = 15.0
    max_total_wait: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_retries=settings.max_retries,
            initial_backoff=settings.retry_initial_backoff,
            max_backoff=settings.retry_max_backoff,
            search_rate_limit_backoff=settings.search_rate_limit_backoff,
            max_total_wait=settings.retry_max_total_wait,
        )


def was_not_sent(outcome: Outcome) -> bool:
    """True when the attempt certainly never reached the service (nothing to look for)."""
    return isinstance(outcome, _NOT_SENT)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or None when absent or unreadable.

    RFC 9110 allows delta-seconds (``"5"``) or an HTTP-date (``"Sun, 29 Nov 2026 20:00:05 GMT"``);
    a date in the past means "now" (0).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def should_retry(kind: RequestKind, attempt: int, outcome: Outcome, *, max_retries: int) -> bool:
    """May the request be sent again after attempt number ``attempt`` (0 = the first) ended so?

    ``outcome`` is the HTTP status of an answer, or the exception of a send that got none.
    """
    if attempt >= max_retries:
        return False
    if isinstance(outcome, int):
        if outcome == 429:
            return True  # refused outright: nothing was created, whatever the kind
        if 500 <= outcome <= 599:
            # A 5xx may come after the run was created (a gateway timing out, a crash
            # while answering): only a request that is safe to repeat goes out again.
            return kind is RequestKind.IDEMPOTENT
        return False
    if isinstance(outcome, _NOT_SENT):
        return True
    if isinstance(outcome, _MAYBE_SENT):
        return kind is RequestKind.IDEMPOTENT
    return False  # bad URL, unsupported protocol, a bug: sending again will not help


def backoff_delay(
    attempt: int,
    *,
    initial: float,
    maximum: float,
    floor: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``: ``floor`` plus full jitter.

    Full jitter (a uniform draw between 0 and the capped exponential step) spreads the
    retries of many concurrent callers instead of having them hit the service together.
    """
    step = min(maximum, initial * (2 ** max(attempt, 0)))
    draw = (rng or _RANDOM).uniform(0.0, step) if step > 0 else 0.0
    return floor + draw


def next_delay(
    policy: RetryPolicy,
    kind: RequestKind,
    product: Product,
    attempt: int,
    outcome: Outcome,
    waited: float,
    *,
    retry_after: float | None = None,
    remaining: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """The whole decision: the wait before sending again, or None to give up now.

    ``waited`` is the time already spent waiting on earlier retries of the same call;
    ``retry_after`` the service's own ``Retry-After`` (seconds) if it sent one;
    ``remaining`` the seconds left before the tool call's deadline, if there is one. A
    wait that would leave no time for the next attempt is not made.
    """
    if not should_retry(kind, attempt, outcome, max_retries=policy.max_retries):
        return None
    if retry_after is not None:
        delay = retry_after
    else:
        floor = policy.search_rate_limit_backoff if (outcome == 429 and product == "search") else 0.0
        delay = backoff_delay(
            attempt, initial=policy.initial_backoff, maximum=policy.max_backoff, floor=floor, rng=rng
        )
    if waited + delay > policy.max_total_wait:
        return None
    if remaining is not None and delay >= remaining:
        return None
    return delay


_RANDOM = random.Random()
