"""Request hygiene for the hosted server: body limits, allowed hosts and origins, CORS.

The MCP SDK checks Host and Origin on ``/mcp`` (DNS-rebinding protection) and limits
the body of MCP messages; the OAuth endpoints and the consent page are ordinary
Starlette routes, so the body limit here covers every path.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings

__all__ = [
    "BodyLimitMiddleware",
    "ConfigError",
    "cors_origin_regex",
    "is_loopback",
    "transport_security",
]

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class ConfigError(Exception):
    """The HTTP deployment settings are unsafe or inconsistent; the message says how to fix them."""


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection, always on: loopback names plus the public URL's host.

    Operators add more with ``TINYFISH_MCP_ALLOWED_HOSTS`` / ``TINYFISH_MCP_ALLOWED_ORIGINS``
    (``host:*`` and ``scheme://host:*`` are port wildcards).
    """
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    public = urlsplit(settings.public_url)
    if public.hostname and not is_loopback(public.hostname):
        hosts.append(public.netloc)
        origins.append(_origin_of(settings.public_url))
    hosts.extend(settings.mcp_allowed_hosts)
    origins.extend(settings.mcp_allowed_origins)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


def cors_origin_regex(settings: Settings) -> str:
    """Origins a browser-based client (the MCP Inspector) may call from: loopback and the configured ones."""
    import re

    alternatives = [r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"]
    for origin in (_origin_of(settings.public_url), *settings.mcp_allowed_origins):
        if origin.endswith(":*"):
            alternatives.append(re.escape(origin[:-2]) + r"(:\d+)?")
        else:
            alternatives.append(re.escape(origin))
    return "^(" + "|".join(dict.fromkeys(alternatives)) + ")$"


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent.

    The body is read (up to the limit) before the app runs, then replayed to it. Refusing
    from inside the app instead would not work: the SDK's mounted app turns any exception
    raised while it reads into a 500 of its own, so a chunked body that grows past the
    limit must be refused before the app has started.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self._refuse(send)
                    return
        body = bytearray()
        pending: deque[Message] = deque()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending.append(message)  # the client went away; the app learns it on its first read
                break
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                pending.append({"type": "http.request", "body": bytes(body), "more_body": False})
                break

        async def replay() -> Message:
            return pending.popleft() if pending else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"error":"request_too_large","error_description":"The request body exceeds '
            + str(self.limit).encode()
            + b' bytes."}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
