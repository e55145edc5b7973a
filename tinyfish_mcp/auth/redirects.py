"""Which redirect URIs a client may register: https anywhere, plain http on loopback only.

Applied to dynamically registered clients and to client ID metadata documents alike.
Private-use schemes (``myapp://``) are refused: the issue limits redirects to https or
loopback http, which every MCP client we target can use (native apps via a loopback
listener, RFC 8252 §7.3).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["redirect_uri_problem"]

_LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` is not an acceptable redirect URI, or None when it is."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        return f"redirect URI {uri!r} is not a valid URL"
    if parts.fragment:
        return f"redirect URI {uri!r} must not contain a fragment"
    if not host:
        return f"redirect URI {uri!r} has no host"
    if parts.username is not None or parts.password is not None:
        return f"redirect URI {uri!r} must not contain user information"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _is_loopback(host):
        return None
    return f"redirect URI {uri!r} must use https, or http on a loopback address (127.0.0.1, [::1], localhost)"
