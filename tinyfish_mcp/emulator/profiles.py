"""The Profiles API: a setup browser per profile, saved into the profile's state.

A setup session is a browser session of ``browser.py``: a real headless Chromium when
one is installed (``cdp_url`` is its DevTools WebSocket), else a record whose ``/pages``
shows its ``url`` once navigated. "Signing in" is the browser having a page on a site:
a save records the hosts of the browser's open pages as signed in (and rejects other
``signed_in_sites`` with ``no_sign_in_cookie``), then closes the browser.

``POST /v1/profiles`` creates a profile (``{name, set_as_default?, proxy_country_code?}``,
answered with ``id``, ``name``, ``proxy_country_code``; 409 when the caller already has a
profile of that name), as the public Go client ``TinyFishProfileManager`` calls it;
``GET /v1/profiles`` lists them in a ``{"profiles": [...]}`` envelope with the fields
``simstudioai/sim`` reads (``tools/tinyfish/list_profiles.ts``). A profile first named
by a setup session exists too (named after its id), as before.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from . import browser
from .browser import PLAN_MAX_TIMEOUT
from .context import Call
from .state import BrowserRecord
from .validation import check_int, is_http_url
from .wire import ApiError, Issue, invalid_input, iso, issue, now, read_json

__all__ = ["cancel_setup", "create_profile", "list_profiles", "save", "start_setup"]

PROFILE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# The hosted create_profile tool's list (tinyfish-io/tinyfish-mcp-server docs/tools.md).
PROFILE_PROXY_COUNTRIES = ("US", "GB", "CA", "AU", "DE", "FR", "IT", "ES", "NL", "JP", "SG", "BR", "IN")
NAME_MAX = 100


def _profiles(call: Call) -> dict[tuple[str, str], dict[str, Any]]:
    profiles: dict[tuple[str, str], dict[str, Any]] = call.store.products.setdefault("profiles", {})
    return profiles


def _profile(call: Call, profile_id: str) -> dict[str, Any]:
    """The caller's profile of that id, made on first use (a setup session may name a new one)."""
    moment = iso(now())
    return _profiles(call).setdefault(
        (call.key, profile_id),
        {
            "id": profile_id,
            "name": profile_id,
            "proxy_country_code": None,
            "fingerprint_seed": hashlib.sha256(profile_id.encode()).hexdigest()[:16],
            "created_at": moment,
            "updated_at": moment,
            "is_default": False,
            "domains": [],
            "signed_in_sites": [],
        },
    )


def _wire(profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": profile["id"],
        "name": profile["name"],
        "proxy_country_code": profile["proxy_country_code"],
        "fingerprint_seed": profile["fingerprint_seed"],
        "domain_count": len(profile["domains"]),
        "created_at": profile["created_at"],
        "updated_at": profile["updated_at"],
        "is_default": profile["is_default"],
    }


def _owned(call: Call) -> list[dict[str, Any]]:
    return [p for (owner, _), p in _profiles(call).items() if owner == call.key]


async def create_profile(call: Call) -> Response:
    body = await read_json(call.request)
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    issues: list[Issue] = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        issues.append(issue("invalid_string", ["name"], f"Required: a name of 1 to {NAME_MAX} characters"))
    country = body.get("proxy_country_code")
    if country is not None and country not in PROFILE_PROXY_COUNTRIES:
        wanted = "|".join(PROFILE_PROXY_COUNTRIES)
        issues.append(
            issue("invalid_value", ["proxy_country_code"], f"Invalid option: expected one of {wanted}")
        )
    if "set_as_default" in body and not isinstance(body["set_as_default"], bool):
        issues.append(issue("invalid_type", ["set_as_default"], "Expected boolean"))
    issues += [
        issue("unrecognized_keys", [k], f"Unrecognized key: {k}")
        for k in sorted(set(body) - {"name", "proxy_country_code", "set_as_default"})
    ]
    if issues:
        raise invalid_input(issues)
    assert isinstance(name, str)
    if any(p["name"].casefold() == name.strip().casefold() for p in _owned(call)):
        raise ApiError(409, "CONFLICT", f"A profile named {name.strip()!r} already exists")
    profile = _profile(call, f"prof_{uuid.uuid4().hex[:20]}")
    profile.update(name=name.strip(), proxy_country_code=country)
    if body.get("set_as_default") is True:
        for other in _owned(call):
            other["is_default"] = False
        profile["is_default"] = True
    return JSONResponse(_wire(profile), status_code=201)


async def list_profiles(call: Call) -> Response:
    owned = sorted(_owned(call), key=lambda p: str(p["created_at"]))
    return JSONResponse({"profiles": [_wire(p) for p in owned]})


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
    browsers = browser._browsers(call)
    if browsers is not None:
        await browser._start_browser(call, browsers, record)
        cdp_url = record.browser.ws_url
    else:
        cdp_url = "ws" + base.removeprefix("http") + "/cdp"
    call.store.sessions[session_id] = record
    _setups(call)[session_id] = (call.key, profile_id)
    return JSONResponse(
        {
            "session_id": session_id,
            "cdp_url": cdp_url,
            "base_url": base,
            "timeout_seconds": timeout,
            "expires_at": iso(record.created_at + timedelta(seconds=timeout)),
        },
        status_code=201,
    )


def _setup(call: Call, profile_id: str, body: Any) -> BrowserRecord:
    if not isinstance(body, dict) or not isinstance(body.get("session_id"), str) or not body["session_id"]:
        raise invalid_input([issue("invalid_type", ["session_id"], "Required: session_id")])
    session = call.store.sessions.get(body["session_id"])
    owned = _setups(call).get(body["session_id"]) == (call.key, profile_id)
    if not owned or session is None or session.ended_at is not None:
        raise ApiError(404, "NOT_FOUND", "Profile setup session not found")
    return session


def _host(site: str) -> str:
    return (urlsplit(site if "://" in site else f"https://{site}").hostname or "").lower()


async def _signed_in_hosts(call: Call, session: BrowserRecord) -> list[str]:
    """The hosts of the pages open in the setup browser."""
    if session.browser is not None:
        try:
            targets = await session.browser.targets()
        except (TimeoutError, OSError, ValueError):
            return []
        urls = [str(t.get("url", "")) for t in targets if t.get("type") == "page"]
    elif session.url and (now() - session.created_at).total_seconds() >= call.config.navigation_delay:
        urls = [session.url]
    else:
        urls = []
    return sorted({_host(u) for u in urls if u.startswith(("http://", "https://")) and _host(u)})


def _close(call: Call, session: BrowserRecord) -> None:
    session.stop()  # kills a real browser
    call.store.sessions.pop(session.session_id, None)
    _setups(call).pop(session.session_id, None)


async def save(call: Call) -> Response:
    profile_id = _profile_id(call)
    body = await read_json(call.request)
    session = _setup(call, profile_id, body)
    sites = body.get("signed_in_sites")
    if sites is not None and (not isinstance(sites, list) or not all(isinstance(s, str) for s in sites)):
        raise invalid_input([issue("invalid_type", ["signed_in_sites"], "Expected an array of strings")])
    domains = await _signed_in_hosts(call, session)
    profile = _profile(call, profile_id)
    profile["updated_at"] = iso(now())
    profile["domains"] = sorted({*profile["domains"], *domains})
    profile["signed_in_sites"] = sorted({*profile["signed_in_sites"], *domains})
    recorded = [s for s in sites or [] if _host(s) in domains]
    rejected = [
        {"site": s, "reason": "invalid_site" if not _host(s) else "no_sign_in_cookie"}
        for s in sites or []
        if s not in recorded
    ]
    _close(call, session)
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
        "pages_captured": len(domains),
        "signed_in_sites": profile["signed_in_sites"],
        "sign_in": {
            "site": domains[0] if domains else None,
            "status": "recorded" if domains else "not_detected",
        },
    }
    if sites is not None:
        result["user_confirmed_sites"] = {"recorded": recorded, "rejected": rejected}
    return JSONResponse(result)


async def cancel_setup(call: Call) -> Response:
    profile_id = _profile_id(call)
    session = _setup(call, profile_id, await read_json(call.request))
    _close(call, session)
    return JSONResponse({"cancelled": True})
