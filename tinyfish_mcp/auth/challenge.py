"""Add ``scope="..."`` to the SDK's bearer challenges.

The SDK's ``RequireAuthMiddleware`` answers 401/403 with ``WWW-Authenticate: Bearer
error=..., error_description=..., resource_metadata="..."`` but never names the scope
a token needs. The MCP authorization spec asks servers to include it, and clients
(the SDK's among them) take it as the first choice of scope to request. This ASGI
wrapper appends it to any bearer challenge that lacks one; the rest of the response
passes through untouched.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ScopeChallenge"]

_HAS_SCOPE = re.compile(rb"(?:^|[\s,])scope=", re.IGNORECASE)


class ScopeChallenge:
    """Wraps an ASGI app; bearer challenges it sends get ``scope="<scopes>"`` appended."""

    def __init__(self, app: ASGIApp, scopes: list[str]) -> None:
        self.app = app
        self._param = f', scope="{" ".join(scopes)}"'.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_scope(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                headers = []
                for name, value in message.get("headers", []):
                    if (
                        name.lower() == b"www-authenticate"
                        and value.lower().startswith(b"bearer ")
                        and not _HAS_SCOPE.search(value)
                    ):
                        value = value + self._param
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_scope)
