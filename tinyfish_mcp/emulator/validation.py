"""Zod-like validation of request bodies, so errors carry ``{code, path, message}`` issues.

The checks follow the documented request fields and the values the official SDK sends
(``agent_config``, ``capture_config``, ``output_schema``, profiles, vault). Unknown
fields are ignored, as a stripping schema would.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .wire import Issue, issue

__all__ = [
    "PROXY_COUNTRIES",
    "check_bool",
    "check_int",
    "check_integration",
    "check_url",
    "is_http_url",
    "validate_run_body",
]

PROXY_COUNTRIES = ("US", "GB", "CA", "DE", "FR", "JP", "AU")
# A run's proxy takes any ISO 3166-1 alpha-2 country (the SDK's ProxyConfig); the seven
# above are the documented common ones.
_COUNTRY = re.compile(r"^[A-Z]{2}$")
CURSOR_STYLES = ("fish", "standard", "green-pointer")
Path = list[str | int]


def is_http_url(value: object, *, https_only: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value.strip())
    schemes = ("https",) if https_only else ("http", "https")
    return parts.scheme in schemes and bool(parts.hostname)


def _type_issue(path: Path, expected: str, value: object) -> Issue:
    if value is None:
        return issue("invalid_type", path, f"Required: expected {expected}")
    got = type(value).__name__
    return issue("invalid_type", path, f"Expected {expected}, received {got}")


def check_url(value: object, path: Path, issues: list[Issue], *, https_only: bool = False) -> None:
    if not isinstance(value, str):
        issues.append(_type_issue(path, "string", value))
    elif not is_http_url(value, https_only=https_only):
        wanted = "an https:// URL" if https_only else "a valid http(s) URL"
        issues.append(issue("invalid_string", path, f"Invalid URL: expected {wanted}"))


def check_bool(body: dict[str, Any], field: str, path: Path, issues: list[Issue]) -> None:
    if field in body and body[field] is not None and not isinstance(body[field], bool):
        issues.append(_type_issue([*path, field], "boolean", body[field]))


def check_int(
    value: object, path: Path, issues: list[Issue], *, low: int | None = None, high: int | None = None
) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        issues.append(_type_issue(path, "integer", value))
        return
    if low is not None and value < low:
        issues.append(issue("too_small", path, f"Too small: expected number >={low}"))
    if high is not None and value > high:
        issues.append(issue("too_big", path, f"Too big: expected number <={high}"))


def _check_enum(value: object, options: tuple[str, ...], path: Path, issues: list[Issue]) -> None:
    if value not in options:
        wanted = "|".join(f'"{o}"' for o in options)
        issues.append(issue("invalid_value", path, f"Invalid option: expected one of {wanted}"))


def _object(body: dict[str, Any], field: str, path: Path, issues: list[Issue]) -> dict[str, Any] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        issues.append(_type_issue([*path, field], "object", value))
        return None
    return value


def _check_proxy(proxy: dict[str, Any], path: Path, issues: list[Issue]) -> None:
    check_bool(proxy, "enabled", path, issues)
    kind = proxy.get("type")
    if kind is not None:
        _check_enum(kind, ("tetra", "custom"), [*path, "type"], issues)
    country = proxy.get("country_code")
    if country is not None and not (isinstance(country, str) and _COUNTRY.match(country)):
        issues.append(
            issue("invalid_string", [*path, "country_code"], "Invalid country: expected ISO 3166-1 alpha-2")
        )
    if kind == "custom":
        if not proxy.get("url"):
            issues.append(issue("custom", [*path, "url"], 'url is required when type is "custom"'))
        else:
            check_url(proxy["url"], [*path, "url"], issues)
    for field in ("username", "password"):
        if proxy.get(field) is not None and not isinstance(proxy[field], str):
            issues.append(_type_issue([*path, field], "string", proxy[field]))


def _check_agent_config(config: dict[str, Any], path: Path, issues: list[Issue]) -> None:
    if config.get("mode") is not None:
        _check_enum(config["mode"], ("default", "strict"), [*path, "mode"], issues)
    if config.get("cursor_style") is not None:
        _check_enum(config["cursor_style"], CURSOR_STYLES, [*path, "cursor_style"], issues)
    if config.get("max_steps") is not None:
        check_int(config["max_steps"], [*path, "max_steps"], issues, low=1, high=500)
    if config.get("max_duration_seconds") is not None:
        check_int(config["max_duration_seconds"], [*path, "max_duration_seconds"], issues, low=1)


def check_integration(body: dict[str, Any], path: Path, issues: list[Issue]) -> None:
    """``api_integration``: the name an integration gives itself (any /v1/automation/* body)."""
    value = body.get("api_integration")
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 100):
        issues.append(_type_issue([*path, "api_integration"], "string of 1 to 100 characters", value))


def validate_run_body(body: object, path: Path | None = None) -> list[Issue]:
    """All issues of one run request (the body of run, run-async, run-sse, or a batch item)."""
    path = path or []
    issues: list[Issue] = []
    if not isinstance(body, dict):
        return [_type_issue(path, "object", body)]
    check_url(body.get("url"), [*path, "url"], issues)
    goal = body.get("goal")
    if not isinstance(goal, str):
        issues.append(_type_issue([*path, "goal"], "string", goal))
    elif not goal.strip():
        issues.append(
            issue("too_small", [*path, "goal"], "Too small: expected string to have >=1 characters")
        )
    if body.get("browser_profile") is not None:
        _check_enum(body["browser_profile"], ("lite", "stealth"), [*path, "browser_profile"], issues)
    proxy = _object(body, "proxy_config", path, issues)
    if proxy is not None:
        _check_proxy(proxy, [*path, "proxy_config"], issues)
    agent_config = _object(body, "agent_config", path, issues)
    if agent_config is not None:
        _check_agent_config(agent_config, [*path, "agent_config"], issues)
    capture = _object(body, "capture_config", path, issues)
    if capture is not None:
        for field in ("elements", "snapshots", "screenshots", "recording", "html"):
            check_bool(capture, field, [*path, "capture_config"], issues)
    _object(body, "output_schema", path, issues)
    flags = _object(body, "feature_flags", path, issues)
    if flags is not None:
        check_bool(flags, "enable_agent_memory", [*path, "feature_flags"], issues)
    if body.get("webhook_url") is not None:
        check_url(body["webhook_url"], [*path, "webhook_url"], issues, https_only=True)
    for field in ("use_vault", "use_profile"):
        check_bool(body, field, path, issues)
    check_integration(body, path, issues)
    ids = body.get("credential_item_ids")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            issues.append(_type_issue([*path, "credential_item_ids"], "array of strings", ids))
        elif body.get("use_vault") is not True:
            issues.append(
                {
                    "code": "custom",
                    "path": [*path, "credential_item_ids"],
                    "message": "credential_item_ids requires use_vault to be true",
                }
            )
    profile_id = body.get("profile_id")
    if profile_id is not None:
        if not isinstance(profile_id, str) or not profile_id.strip():
            issues.append(_type_issue([*path, "profile_id"], "non-empty string", profile_id))
        elif body.get("use_profile") is not True:
            issues.append(
                issue("custom", [*path, "profile_id"], "profile_id requires use_profile to be true")
            )
    return issues
