"""Per-address limits on the endpoints that cost us something: authorize, consent, registration.

Each consent POST makes one upstream call to check a key, and each registration or
authorization request writes a row, so all three are limited per client address. The
counters are shared by every replica (``auth.ratelimit_backends``: a table of the OAuth
database, or Redis when ``TINYFISH_MCP_REDIS_URL`` is set), so a limit holds for the
whole deployment, not per process.

Every backend counts the same way, a sliding-window estimate over two fixed windows
(:func:`sliding_decision`): hits in the current window, plus those of the previous one
weighted by how much of it the sliding window still covers. Refused requests are not
counted. Behind a reverse proxy, uvicorn must see the real client address
(``--proxy-headers``, ``FORWARDED_ALLOW_IPS``) for ``request.client`` to be it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "CONSENT_LIMIT",
    "REGISTER_LIMIT",
    "Budget",
    "RateLimitedApp",
    "RateLimiter",
    "client_address",
    "retry_after",
    "sliding_decision",
]

CONSENT_LIMIT = (10, 60.0)
"""Consent form submissions (each checks a key upstream) per client address per minute."""
REGISTER_LIMIT = (20, 60.0)
"""Dynamic client registrations per client address per minute."""


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


class RateLimiter(Protocol):
    """Counters shared by every replica (``SqlRateLimiter``, ``RedisRateLimiter``)."""

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        """Count one event for ``key``; None if allowed, else the seconds to wait (not counted)."""
        ...

    async def close(self) -> None:
        """Release connections (called at shutdown)."""
        ...


def sliding_decision(current: int, previous: int, limit: int, window: float, elapsed: float) -> float | None:
    """Whether the hit just counted (``current`` includes it) fits; else the seconds to wait.

    ``elapsed`` is how far into the current fixed window we are; ``previous`` is the count
    of the window before, which still weighs ``(window - elapsed) / window``.
    """
    remaining = window - elapsed
    if previous * remaining / window + current <= limit:
        return None
    others = current - 1  # the refused hit is taken back by the caller
    if others + 1 <= limit:
        # Fits later in this window, once the previous window's weight has faded enough.
        wait = remaining - (limit - others - 1) * window / previous
    else:
        # This window alone is full: wait into the next, until its weight has faded.
        wait = remaining + window * (1 - (limit - 1) / others)
    return max(wait, 0.001)


@dataclass(frozen=True, slots=True)
class Budget:
    """One named limit (``limit`` events per ``window`` seconds per address) on a shared limiter."""

    limiter: RateLimiter
    name: str
    limit: int
    window: float

    async def hit(self, address: str) -> float | None:
        return await self.limiter.hit(f"{self.name}:{address}", self.limit, self.window)


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value in whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


class RateLimitedApp:
    """ASGI wrapper answering 429 (JSON, with ``Retry-After``) once a client exceeds the budget.

    Only POST counts, so CORS preflights never use up the budget.
    """

    def __init__(self, app: ASGIApp, budget: Budget) -> None:
        self.app = app
        self.budget = budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            wait = await self.budget.hit(client_address(HTTPConnection(scope)))
            if wait is not None:
                body = json.dumps(
                    {"error": "too_many_requests", "error_description": "Too many requests; try again later."}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 429,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", retry_after(wait).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
