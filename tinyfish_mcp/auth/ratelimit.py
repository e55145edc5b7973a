"""A modest per-IP limit on the endpoints that cost us something: authorize, consent, registration.

Each consent POST makes one upstream call to check a key, and each registration or
authorization request writes a row, so all three are limited per client address with a
sliding window. The counters live in this process's memory: with several replicas each
one counts on its own (the limit is per replica), which is enough to blunt key guessing
and registration floods without a shared cache. Behind a reverse proxy, run uvicorn with
``--proxy-headers`` and ``--forwarded-allow-ips`` so that ``request.client`` is the real client address.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "CONSENT_LIMIT",
    "REGISTER_LIMIT",
    "RateLimitedApp",
    "SlidingWindowLimiter",
    "client_address",
]

CONSENT_LIMIT = (10, 60.0)
"""Consent form submissions (each checks a key upstream) per client address per minute."""
REGISTER_LIMIT = (20, 60.0)
"""Dynamic client registrations per client address per minute."""

_MAX_TRACKED = 10_000


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> float | None:
        """Record an event; None if allowed, else the seconds to wait before the next one."""
        now = time.monotonic()
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
        self._events.move_to_end(key)
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return events[0] + self.window - now
        events.append(now)
        # Bound the memory an address-spraying client can make us spend.
        while len(self._events) > _MAX_TRACKED:
            self._events.popitem(last=False)
        return None


class RateLimitedApp:
    """ASGI wrapper answering 429 (JSON, with ``Retry-After``) once a client exceeds the limit.

    Only POST counts, so CORS preflights never use up the budget.
    """

    def __init__(self, app: ASGIApp, limiter: SlidingWindowLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            wait = self.limiter.hit(client_address(HTTPConnection(scope)))
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
                            (b"retry-after", str(max(1, math.ceil(wait))).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
