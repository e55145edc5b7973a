"""An OAuth access token for the load benchmark, obtained by driving the server's own flow.

Dynamic registration of a public client, ``/authorize`` with PKCE S256 and ``resource``,
the consent page (its form read from the HTML and submitted with the emulator's API key,
cookies kept for its CSRF protection), then ``/token``. Done once, before the load.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from ._common import API_KEY, BenchError

__all__ = ["oauth_access_token"]

REDIRECT_URI = "http://127.0.0.1:9/callback"
_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
_ACTION = re.compile(r"""action\s*=\s*["']([^"']*)["']""", re.I)
_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_ATTR = re.compile(r"""(\w[\w-]*)\s*=\s*["']([^"']*)["']""")


def _consent_form(page: str, page_url: str) -> tuple[str, dict[str, str]]:
    """The consent form's action URL and its fields, the key field filled in."""
    forms = _FORM.findall(page)
    form = next((f for f in forms if re.search(r"password|api[_-]?key", f, re.I)), forms[0] if forms else "")
    if not form:
        raise BenchError(f"no form on the consent page {page_url}")
    action_match = _ACTION.search(form)
    action = urljoin(page_url, html.unescape(action_match.group(1))) if action_match else page_url
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(form):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}
        name = attrs.get("name")
        if not name:
            continue
        kind = attrs.get("type", "text").lower()
        if kind == "password" or re.search(r"api[_-]?key", name, re.I):
            fields[name] = API_KEY
        elif kind not in ("submit", "button") or name not in fields:
            fields[name] = attrs.get("value", "")
    return action, fields


def oauth_access_token(server_url: str) -> str:
    """Register, authorize, consent and exchange the code: returns an access token for /mcp."""
    resource = f"{server_url}/mcp"
    with httpx.Client(base_url=server_url, timeout=30.0, follow_redirects=False) as http:
        prm = http.get("/.well-known/oauth-protected-resource/mcp")
        scopes = prm.json().get("scopes_supported") if prm.status_code == 200 else None
        registration = http.post(
            "/register",
            json={
                "client_name": "tinyfish-bench",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                **({"scope": " ".join(scopes)} if scopes else {}),
            },
        )
        if registration.status_code not in (200, 201):
            raise BenchError(f"registration refused: {registration.status_code} {registration.text[:300]}")
        client_id = registration.json()["client_id"]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "resource": resource,
        }
        if scopes:
            params["scope"] = " ".join(scopes)
        reply = http.get("/authorize", params=params)
        # Follow the server's own redirects (to the consent page) until it sends us to the client.
        for _ in range(5):
            location = reply.headers.get("location", "")
            if reply.status_code in (301, 302, 303, 307, 308) and location.startswith(REDIRECT_URI):
                break
            if reply.status_code in (301, 302, 303, 307, 308):
                reply = http.get(urljoin(str(reply.url), location))
                continue
            if reply.status_code != 200:
                raise BenchError(f"authorize/consent refused: {reply.status_code} {reply.text[:300]}")
            action, fields = _consent_form(reply.text, str(reply.url))
            reply = http.post(action, data=fields)
        else:
            raise BenchError("the consent flow did not redirect back to the client")
        query = parse_qs(urlsplit(reply.headers["location"]).query)
        if query.get("state") != [state] or "code" not in query:
            raise BenchError(f"bad redirect from the consent page: {reply.headers['location'][:200]}")
        token = http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "code_verifier": verifier,
                "resource": resource,
            },
        )
        if token.status_code != 200:
            raise BenchError(f"token exchange refused: {token.status_code} {token.text[:300]}")
        return str(token.json()["access_token"])
