"""``/revoke`` for public clients: the SDK's handler behind a one-line request fix.

mcp 2.3.0 declares ``RevocationRequest.client_secret`` as ``str | None`` without a
default, which pydantic treats as *required*: a public client (``none`` auth method)
that leaves the parameter out, as RFC 7009 §2.1 allows, gets 400 "client_secret: Field
required" (modelcontextprotocol/python-sdk#3508). Until the SDK defaults it, this ASGI
shim adds an empty ``client_secret`` to a form body that has none, then hands the
request to the SDK's ``RevocationHandler`` unchanged. An empty secret changes nothing
for the client check: public clients are not asked for one, and a confidential client
that sent none is still refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.middleware.client_auth import ClientAuthenticator
from mcp.server.auth.provider import OAuthAuthorizationServerProvider
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_REVOCATION_BYTES", "revocation_app"]

MAX_REVOCATION_BYTES = 16 * 1024


class _AddEmptyClientSecret:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            if len(body) > MAX_REVOCATION_BYTES:
                await Response("Request body too large", status_code=413)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        content_type = Headers(scope=scope).get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            if not any(name == "client_secret" for name, _ in fields):
                body.extend(b"&client_secret=" if body else b"client_secret=")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


def revocation_app(provider: OAuthAuthorizationServerProvider[Any, Any, Any]) -> ASGIApp:
    """The SDK's revocation endpoint, accepting public clients that omit ``client_secret``."""
    handler = RevocationHandler(provider, ClientAuthenticator(provider))
    return _AddEmptyClientSecret(request_response(handler.handle))
