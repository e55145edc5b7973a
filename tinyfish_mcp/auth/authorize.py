"""``/authorize``, guarded: the SDK's handler behind rate limits and size bounds.

``/authorize`` is the one endpoint anybody may call without credentials that writes to
the database: each well-formed request parks a pending authorization for the consent
page (see ``TinyFishOAuthProvider.authorize``). So before the SDK's handler runs:

- requests are rate-limited per client address (GET and POST alike);
- every parameter has a size bound and may appear once (RFC 6749 §3.1), so no request
  can make us store more than a few kilobytes; a refusal is a 400 JSON answer, never a
  redirect, since an oversized ``state`` could not be echoed back to the client;
- pending authorizations are bounded per client address (those started within the
  consent window) and in total (rows still open in the database), so a flood cannot
  grow the table without limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from sqlalchemy import func, select
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .provider import TinyFishOAuthProvider
from .ratelimit import Budget, client_address, retry_after
from .store import AuthStore, pending

__all__ = [
    "MAX_AUTHORIZE_BYTES",
    "MAX_PENDING",
    "PARAMETER_LIMITS",
    "AuthorizeEndpoint",
    "AuthorizeLimits",
    "live_pending",
]

PARAMETER_LIMITS: dict[str, int] = {
    # Client ids of metadata-document clients are https URLs; registered ones are UUIDs.
    "client_id": 2048,
    "redirect_uri": 2048,
    "resource": 2048,
    "state": 2048,
    "scope": 256,
    "response_type": 32,
    "code_challenge": 128,
    "code_challenge_method": 16,
}
"""Longest accepted value of each parameter, in characters."""

MAX_AUTHORIZE_BYTES = 8 * 1024
"""Longest accepted query string (GET) or form body (POST) of an authorization request."""

MAX_PENDING = 10_000
"""Pending authorizations the database holds at most, across every client address."""


@dataclass(frozen=True, slots=True)
class AuthorizeLimits:
    """The operator's bounds (``TINYFISH_MCP_AUTHORIZE_RATE_LIMIT``, ``_PENDING_PER_ADDRESS``,
    ``_PENDING_MAX``): requests per address per minute, sign-ins one address may start per
    consent window, and sign-ins waiting for consent in total."""

    per_minute: int = 30
    pending_per_address: int = 60
    pending_max: int = MAX_PENDING


_NO_STORE = {"Cache-Control": "no-store"}


def _refusal(status: int, error: str, description: str, wait: float | None = None) -> Response:
    headers = dict(_NO_STORE)
    if wait is not None:
        headers["Retry-After"] = retry_after(wait)
    return JSONResponse({"error": error, "error_description": description}, status, headers=headers)


def parameter_problem(params: QueryParams | FormData) -> str | None:
    """Why these authorization parameters are refused before any lookup, or None."""
    for name in dict.fromkeys(params.keys()):
        values = params.getlist(name)
        if name in PARAMETER_LIMITS and len(values) > 1:
            return f"the {name} parameter may appear only once"
        limit = PARAMETER_LIMITS.get(name, PARAMETER_LIMITS["state"])
        if any(not isinstance(value, str) or len(value) > limit for value in values):
            return f"the {name[:40]} parameter is longer than {limit} characters"
    return None


async def live_pending(store: AuthStore) -> int:
    """How many authorizations are waiting for consent right now (every replica's)."""
    async with store.engine.connect() as conn:
        result = await conn.execute(
            select(func.count()).select_from(pending).where(pending.c.expires_at > time.time())
        )
    return int(result.scalar_one())


class AuthorizeEndpoint:
    """One Starlette endpoint for ``/authorize`` (GET and POST) in front of the SDK's handler."""

    def __init__(
        self,
        provider: TinyFishOAuthProvider,
        *,
        rate: Budget,
        pending_per_address: Budget,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._provider = provider
        self._handler = AuthorizationHandler(provider)
        self._rate = rate
        self._pending_per_address = pending_per_address
        self._max_pending = max_pending

    async def handle(self, request: Request) -> Response:
        address = client_address(request)
        wait = await self._rate.hit(address)
        if wait is not None:
            return _refusal(
                429, "too_many_requests", "Too many authorization requests; try again later.", wait
            )

        params: Any
        if request.method == "GET":
            if len(request.scope.get("query_string", b"")) > MAX_AUTHORIZE_BYTES:
                return _refusal(
                    400, "invalid_request", f"the request is longer than {MAX_AUTHORIZE_BYTES} bytes"
                )
            params = request.query_params
        else:
            # The route's body limit is MAX_AUTHORIZE_BYTES, so this form is small.
            params = await request.form(max_files=0, max_fields=64)
        problem = parameter_problem(params)
        if problem is not None:
            return _refusal(400, "invalid_request", problem)

        wait = await self._pending_per_address.hit(address)
        if wait is not None:
            return _refusal(
                429,
                "too_many_requests",
                "Too many sign-ins are waiting for consent from your network; finish or wait for them.",
                wait,
            )
        if await live_pending(self._provider.store) >= self._max_pending:
            return _refusal(
                503,
                "temporarily_unavailable",
                "Too many sign-ins are in progress on this server; try again in a few minutes.",
                60,
            )
        return await self._handler.handle(request)
