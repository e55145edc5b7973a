"""The Profiles API: a setup browser per profile, saved into the profile's state.

A setup session is a browser session of ``browser.py`` (so ``{base_url}/pages`` lists
it, with its DevTools page once it has navigated). The emulator has no real browser,
so "signing in" is the session having navigated to its ``url``: a save records a
sign-in cookie for that page's host (and rejects other ``signed_in_sites`` with
``no_sign_in_cookie``), then closes the session.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from .browser import PLAN_MAX_TIMEOUT
from .context import Call
from .state import BrowserRecord
from .validation import check_int, is_http_url
from .wire import ApiError, Issue, invalid_input, iso, issue, now, read_json

__all__ = ["cancel_setup", "save", "start_setup"]

PROFILE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _profiles(call: Call) -> dict[tuple[str, str], dict[str, Any]]:
    profiles: dict[tuple[str, str], dict[str, Any]] = call.store.products.setdefault("profiles", {})
    return profiles


def _setups(call: Call) -> dict[str, tuple[str, str]]:
    """setup session id -> (owner, profile_id)."""
    setups: dict[str, tuple[str, str]] = call.store.products.setdefault("profile_setups", {})
    return setups


def _profile_id(call: Call) -> str:
    profile_id = str(call.request.path_params["profile_id"])
    if not PROFILE_ID.match(profile_id):
        raise invalid_input([issue("invalid_string", ["profile_id"], "Invalid profile id")])
    return profile_id


async def start_setup(call: Call) -> Response:
    profile_id = _profile_id(call)
    body = await read_json(call.request) or {}
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    issues: list[Issue] = []
    url = body.get("url")
    if url is not None and not is_http_url(url):
        issues.append(issue("invalid_string", ["url"], "Invalid URL"))
    if body.get("timeout_seconds") is not None:
        check_int(body["timeout_seconds"], ["timeout_seconds"], issues, low=5, high=86400)
    issues += [
        issue("unrecognized_keys", [k], f"Unrecognized key: {k}")
        for k in sorted(set(body) - {"url", "timeout_seconds"})
    ]
    if issues:
        raise invalid_input(issues)
    timeout = min(int(body.get("timeout_seconds") or PLAN_MAX_TIMEOUT), PLAN_MAX_TIMEOUT)
    session_id = f"br-{uuid.uuid4()}"
    base = f"{call.base_url}/_browser/{session_id}"
    record = BrowserRecord(
        session_id=session_id, owner=call.key, url=url, timeout_seconds=timeout, base_url=base
    )
    call.store.sessions[session_id] = record
    _setups(call)[session_id] = (call.key, profile_id)
    ws_base = "ws" + call.base_url.removeprefix("http")
    return JSONResponse(
        {
            "session_id": session_id,
            "cdp_url": f"{ws_base}/_browser/{session_id}/cdp",
            "base_url": base,
            "timeout_seconds": timeout,
            "expires_at": iso(record.created_at + timedelta(seconds=timeout)),
        },
        status_code=201,
    )


def _setup(call: Call, profile_id: str, body: Any) -> BrowserRecord:
    if not isinstance(body, dict) or not isinstance(body.get("session_id"), str) or not body["session_id"]:
        raise invalid_input([issue("invalid_type", ["session_id"], "Required: session_id")])
    session_id = body["session_id"]
    if _setups(call).get(session_id) != (call.key, profile_id) or session_id not in call.store.sessions:
        raise ApiError(404, "NOT_FOUND", "Profile setup session not found")
    return call.store.sessions[session_id]


def _host(site: str) -> str:
    return (urlsplit(site if "://" in site else f"https://{site}").hostname or "").lower()


async def save(call: Call) -> Response:
    profile_id = _profile_id(call)
    body = await read_json(call.request)
    session = _setup(call, profile_id, body)
    sites = body.get("signed_in_sites")
    if sites is not None and (not isinstance(sites, list) or not all(isinstance(s, str) for s in sites)):
        raise invalid_input([issue("invalid_type", ["signed_in_sites"], "Expected an array of strings")])
    navigated = (now() - session.created_at).total_seconds() >= call.config.navigation_delay
    host = _host(session.url) if session.url and navigated else None
    profile = _profiles(call).setdefault((call.key, profile_id), {"domains": [], "signed_in_sites": []})
    domains = [host] if host else []
    for domain in domains:
        if domain not in profile["domains"]:
            profile["domains"].append(domain)
    recorded = [s for s in sites or [] if host and _host(s) == host]
    rejected = [
        {"site": s, "reason": "invalid_site" if not _host(s) else "no_sign_in_cookie"}
        for s in sites or []
        if s not in recorded
    ]
    signed_in = sorted(
        {*profile["signed_in_sites"], *(_host(s) for s in recorded), *([host] if host else [])}
    )
    profile["signed_in_sites"] = signed_in
    del call.store.sessions[session.session_id]
    del _setups(call)[session.session_id]
    result: dict[str, Any] = {
        "domains_updated": domains,
        "domains_failed": [],
        "cookie_count": 2 * len(domains),
        "domains_skipped": {
            "cookies_skipped": [],
            "local_storage_skipped": [],
            "session_storage_skipped": [],
            "blob_too_large": [],
        },
        "pages_captured": 1 if host else 0,
        "signed_in_sites": signed_in,
        "sign_in": {"site": host, "status": "recorded" if host else "not_detected"},
    }
    if sites is not None:
        result["user_confirmed_sites"] = {"recorded": recorded, "rejected": rejected}
    return JSONResponse(result)


async def cancel_setup(call: Call) -> Response:
    profile_id = _profile_id(call)
    session = _setup(call, profile_id, await read_json(call.request))
    del call.store.sessions[session.session_id]
    del _setups(call)[session.session_id]
    return JSONResponse({"cancelled": True})
