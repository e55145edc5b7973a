"""``/token``, with the RFC 8707 check the SDK's handler leaves out.

The SDK's ``TokenHandler`` accepts a ``resource`` parameter and ignores it. Our tokens
are always bound to this server's resource URL, but RFC 8707 §2 asks an authorization
server to refuse a token request for a resource it does not serve (``invalid_target``),
at the code exchange and at every refresh alike. A request without ``resource`` is
still accepted (the parameter is optional at the token endpoint).
"""

from __future__ import annotations

from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.middleware.client_auth import ClientAuthenticator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .provider import TinyFishOAuthProvider, same_resource

__all__ = ["MAX_TOKEN_REQUEST_BYTES", "TokenEndpoint"]

MAX_TOKEN_REQUEST_BYTES = 64 * 1024
"""Body limit of a token request (a form of a few short fields)."""


class TokenEndpoint:
    """One Starlette endpoint for ``/token``: the resource check, then the SDK's handler."""

    def __init__(self, provider: TinyFishOAuthProvider, *, identity_assertion_enabled: bool = False) -> None:
        self._resource_url = provider.resource_url
        self._handler = TokenHandler(
            provider, ClientAuthenticator(provider), identity_assertion_enabled=identity_assertion_enabled
        )

    async def handle(self, request: Request) -> Response:
        # The form is parsed once: Starlette keeps it on the request for the SDK's handler.
        form = await request.form(max_files=0, max_fields=64)
        resources = form.getlist("resource")
        if any(not isinstance(r, str) or not same_resource(r, self._resource_url) for r in resources):
            return JSONResponse(
                {
                    "error": "invalid_target",
                    "error_description": f"this server only issues tokens for {self._resource_url}",
                },
                400,
                headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
            )
        response: Response = await self._handler.handle(request)
        return response
