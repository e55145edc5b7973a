"""``tinyfish-mcp doctor``: why does my setup not work?

Checks, in order, each printed as one ``ok`` / ``warn`` / ``FAIL`` line with the fix
under each failure: versions; the API key is set; each TinyFish host resolves and
answers (with timings) and its ``Date`` header agrees with the local clock; the key is
accepted (one cheap authenticated call: list one run); which MCP clients' configuration
files mention this server and whether the command each would start exists; the enabled
toolsets. The exit status is 1 when anything failed. It uses the same settings as the
server (``TINYFISH_API_KEY``, ``TINYFISH_BASE_URL``, ``--sandbox``) and never prints a key.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import httpx

from . import __version__
from .clients import CLIENTS, ClientName, config_path, mentions_us
from .settings import Product, Settings
from .upstream.client import TinyFishClient
from .upstream.errors import AuthenticationError, PermissionDeniedError, UpstreamError
from .upstream.models import ListRunsParams

__all__ = ["Check", "clock_skew", "diagnose", "run"]

Status = Literal["ok", "warn", "FAIL"]
PRODUCTS: tuple[Product, ...] = ("automation", "fetch", "search")
KEYS_PAGE = "https://agent.tinyfish.ai/api-keys"
SKEW_WARN, SKEW_FAIL = 30.0, 300.0
PROBE_TIMEOUT = 10.0


@dataclass
class Check:
    status: Status
    what: str
    fix: str = ""


def _versions() -> Check:
    try:
        sdk = version("mcp")
    except PackageNotFoundError:  # pragma: no cover - mcp is a dependency
        sdk = "?"
    python = platform.python_version()
    return Check("ok", f"tinyfish-mcp {__version__}, mcp {sdk}, Python {python}, {platform.platform()}")


def _key(settings: Settings) -> Check:
    key = settings.api_key.get_secret_value().strip() if settings.api_key else ""
    if not key:
        return Check(
            "FAIL",
            "no API key: TINYFISH_API_KEY is not set",
            f"create a key at {KEYS_PAGE} and set TINYFISH_API_KEY (or run `tinyfish-mcp install <client>`, "
            "which asks for it); `--sandbox` needs none",
        )
    shape = "" if key.startswith("sk-tinyfish-") else " (it does not look like a TinyFish key: sk-tinyfish-…)"
    return Check("ok" if not shape else "warn", f"API key is set{shape}")


def _origins(settings: Settings) -> list[str]:
    origins = []
    for product in PRODUCTS:
        parts = urlsplit(settings.product_url(product))
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


async def _probe(origin: str, http: httpx.AsyncClient) -> list[Check]:
    parts = urlsplit(origin)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    started = time.perf_counter()
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return [
            Check(
                "FAIL",
                f"{host} does not resolve ({exc})",
                "check your network and DNS; with TINYFISH_BASE_URL set, check that the host name is right",
            )
        ]
    resolved = f"{host} resolves to {infos[0][4][0]} ({(time.perf_counter() - started) * 1000:.0f} ms)"
    checks = [Check("ok", resolved)]
    started = time.perf_counter()
    try:
        response = await http.get(f"{origin}/")
    except httpx.HTTPError as exc:
        reason = type(exc).__name__
        return [
            *checks,
            Check(
                "FAIL",
                f"{origin} is not reachable ({reason} after {time.perf_counter() - started:.1f} s)",
                "check your network, proxy (HTTPS_PROXY) and firewall; with TINYFISH_BASE_URL set, "
                "check that the server there is running",
            ),
        ]
    local = datetime.now(UTC)
    elapsed = (time.perf_counter() - started) * 1000
    checks.append(Check("ok", f"{origin} answers (HTTP {response.status_code}, {elapsed:.0f} ms)"))
    checks.append(clock_skew(origin, response.headers.get("date"), local))
    return checks


def clock_skew(origin: str, date: str | None, local: datetime) -> Check:
    if not date:
        return Check("warn", f"{origin} sent no Date header: the clock could not be compared")
    try:
        remote = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return Check("warn", f"{origin} sent an unreadable Date header")
    skew = (local - remote).total_seconds()
    text = f"clock: {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} {urlsplit(origin).hostname}"
    if abs(skew) >= SKEW_FAIL:
        return Check("FAIL", text, "set this machine's clock right (turn on network time, NTP)")
    return Check("warn" if abs(skew) >= SKEW_WARN else "ok", text)


async def _key_accepted(settings: Settings) -> Check:
    assert settings.api_key is not None
    quick = settings.model_copy(update={"max_retries": 0, "default_timeout": PROBE_TIMEOUT})
    started = time.perf_counter()
    async with TinyFishClient(quick) as client:
        try:
            await client.list_runs(settings.api_key.get_secret_value().strip(), ListRunsParams(limit=1))
        except (AuthenticationError, PermissionDeniedError) as exc:
            return Check(
                "FAIL",
                f"TinyFish refused the API key (HTTP {exc.status})",
                f"copy the key again from {KEYS_PAGE} (keys can be revoked there) and set TINYFISH_API_KEY",
            )
        except UpstreamError as exc:
            return Check(
                "FAIL", f"the key could not be checked: {exc}", "fix the connection problem above first"
            )
    return Check("ok", f"API key accepted (list runs, {(time.perf_counter() - started) * 1000:.0f} ms)")


def _entries(client: ClientName, document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    key = "servers" if client == "vscode" else "mcpServers"
    scopes: list[Any] = [document.get(key)]
    if client == "claude-code":  # user scope at the top, local scope per project
        scopes += [
            p.get("mcpServers") for p in (document.get("projects") or {}).values() if isinstance(p, dict)
        ]
    for servers in scopes:
        if isinstance(servers, dict):
            for name, entry in servers.items():
                if isinstance(entry, dict) and (name.startswith("tinyfish") or mentions_us(entry)):
                    yield name, entry


def _client_configs(home: Path | None, env: Mapping[str, str]) -> list[Check]:
    checks: list[Check] = []
    found = False
    for client in CLIENTS:
        path = Path(config_path(client, home=home, platform=sys.platform, env=env))
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, json.JSONDecodeError) as exc:
            checks.append(Check("FAIL", f"{client}: {path} cannot be read ({exc})", "fix or move the file"))
            continue
        if not isinstance(document, dict):
            continue
        for name, entry in _entries(client, document):
            found = True
            checks.append(_entry_check(client, path, name, entry))
    if not found:
        checks.append(
            Check(
                "warn",
                "no MCP client configuration mentions tinyfish-mcp",
                "run `tinyfish-mcp install <client>`",
            )
        )
    return checks


def _entry_check(client: ClientName, path: Path, name: str, entry: Mapping[str, Any]) -> Check:
    where = f"{client}: {name!r} in {path}"
    url = entry.get("url", entry.get("serverUrl"))
    command = entry.get("command")
    if not command:
        return Check("ok", f"{where} -> {url}") if url else Check("FAIL", f"{where} has no command or URL")
    found = shutil.which(str(command))
    if found is None:
        return Check(
            "FAIL",
            f"{where} starts {command!r}, which does not exist",
            f"run `tinyfish-mcp install {client}` again from the tinyfish-mcp you want it to start",
        )
    return Check("ok", f"{where} starts {found}")


def _toolsets(settings: Settings) -> Check:
    return Check("ok", f"toolsets enabled: {', '.join(settings.mcp_toolsets)}")


async def diagnose(
    settings: Settings, *, home: Path | None = None, env: Mapping[str, str] | None = None
) -> list[Check]:
    """Every check, in the order they are printed."""
    checks = [_versions(), _key(settings)]
    where = settings.base_url or "the production hosts"
    checks.append(Check("ok", f"TinyFish API: {where}"))
    reachable = True
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, follow_redirects=False) as http:
        for origin in _origins(settings):
            probed = await _probe(origin, http)
            reachable = reachable and all(c.status != "FAIL" for c in probed)
            checks += probed
    if settings.api_key is not None and settings.api_key.get_secret_value().strip():
        if reachable:
            checks.append(await _key_accepted(settings))
        else:
            checks.append(Check("FAIL", "the API key was not checked: the API is not reachable", "see above"))
    checks += _client_configs(home, os.environ if env is None else env)
    checks.append(_toolsets(settings))
    return checks


def run(settings: Settings) -> int:
    """The ``doctor`` command: print every check, exit 1 if any failed."""
    checks = anyio.run(diagnose, settings)
    for check in checks:
        print(f"{check.status:<4}  {check.what}")
        if check.fix:
            print(f"      fix: {check.fix}")
    failed = sum(c.status == "FAIL" for c in checks)
    print(f"{failed} problem(s) found" if failed else "everything looks right")
    return 1 if failed else 0
