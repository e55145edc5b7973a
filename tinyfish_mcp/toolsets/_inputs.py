"""Tool arguments of a run, and turning them into the upstream ``RunRequest``.

Everything is checked here, before any upstream call, and a mistake comes back as a
tool error that names the field and how to fix it.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..pipeline.wording import safe_text, shown
from ..runtime.errors import invalid_input

if TYPE_CHECKING:
    from ..upstream.models import RunBatchRequest, RunRequest

__all__ = [
    "AgentConfigInput",
    "BrowserProfile",
    "CaptureInput",
    "CredentialIds",
    "FeatureFlagsInput",
    "Integration",
    "OutputSchema",
    "ProfileId",
    "ProxyInput",
    "RunSpec",
    "SessionId",
    "Url",
    "batch_request",
    "iso_filter",
    "normalize_url",
    "run_request",
]

# A scheme-like prefix with no '//' (mailto:, javascript:), but not host:port.
_BARE_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+-]*:(?!\d)")

# The argument names and shapes are those of TinyFish's hosted MCP server (a contract);
# the bounds are those of the official SDK's request models.
Url = Annotated[str, Field(description="Start page (a bare domain gets https://)")]
Goal = Annotated[str, Field(description="Exact steps, fields to return, when to stop")]
BrowserProfile = Annotated[
    Literal["lite", "stealth"] | None, Field(description="stealth: bot-protected sites")
]
OutputSchema = Annotated[dict[str, Any] | None, Field(description="JSON Schema of the result (recommended)")]
CredentialIds = Annotated[
    list[str] | None, Field(description="vault item ids to log in with (implies use_vault)")
]
ProfileId = Annotated[
    str | None, Field(min_length=1, description="A saved Browser Context Profile (implies use_profile)")
]
SessionId = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=200,
        description="A fresh UUID per task; calling again with it follows that run, never bills a second",
    ),
]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. US")]


# The input models are built on first use (defer_build): a start lists the tools from the
# precomputed schemas (pipeline/precomputed.py) and validates nothing.


class ProxyInput(BaseModel):
    # No docstring: it would become a schema description, sent on every tools/list.

    model_config = ConfigDict(extra="forbid", defer_build=True)

    enabled: bool = True
    country_code: CountryCode | None = None


class AgentConfigInput(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    max_duration_seconds: int | None = Field(default=None, ge=1)
    mode: Literal["default", "strict"] | None = Field(default=None, description="strict: fail fast")
    max_steps: int | None = Field(
        default=None, ge=1, le=500, description="default 150; beta accounts only (403 otherwise)"
    )
    cursor_style: Literal["fish", "standard", "green-pointer"] | None = None


class FeatureFlagsInput(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    enable_agent_memory: bool | None = None


# A caller's integration name (the hosted tools' api_integration): sent after ours, see
# ``upstream.models.api_integration_for``.
Integration = Annotated[str | None, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,59}$")]


class CaptureInput(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    elements: bool | None = None
    snapshots: bool | None = None
    screenshots: bool | None = None
    recording: bool | None = None
    html: bool | None = None


class RunSpec(BaseModel):
    # One run: the arguments of run_web_automation that describe the run itself (no
    # docstring: it would be sent as batch_create's item description on every tools/list).

    model_config = ConfigDict(extra="forbid", defer_build=True)

    url: str
    goal: str
    browser_profile: Literal["lite", "stealth"] | None = None
    proxy_config: ProxyInput | None = None
    output_schema: dict[str, Any] | None = None
    agent_config: AgentConfigInput | None = None
    capture_config: CaptureInput | None = None
    use_vault: bool | None = None
    credential_item_ids: list[str] | None = None
    use_profile: bool | None = None
    profile_id: str | None = None
    webhook_url: str | None = None


def iso_filter(value: str | None, name: str) -> str | None:
    """An ISO datetime filter as given (a date alone is midnight UTC), or a one-line error."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(
            f"{name} must be an ISO datetime such as 2026-01-31T00:00:00Z (got {text[:40]!r})."
        ) from None
    return text


def normalize_url(raw: str, where: str = "url") -> str:
    """``raw`` as an absolute http(s) URL: a bare domain gets ``https://``; other schemes are refused.

    ``where`` names the argument in the error message (e.g. ``urls[2]``).
    """
    value = raw.strip()
    if not value:
        raise ToolError(f"{where} is empty: give a page URL such as https://example.com.")
    if value.startswith("//"):
        value = "https:" + value
    elif "://" not in value:
        if _BARE_SCHEME.match(value):
            raise ToolError(
                f"{where} ({shown(value)}) is not a web page URL: only http:// and https:// are supported."
            )
        value = "https://" + value
    scheme = value.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ToolError(
            f"{where} uses the {safe_text(scheme, 20)}:// scheme; only http:// and https:// pages are "
            "supported (a bare domain like example.com is fetched over https)."
        )
    if not _has_valid_host(value):
        raise ToolError(
            f"{where} ({shown(raw)}) is not a valid page address (check the host name and port); "
            "give one such as https://example.com."
        )
    return value


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _has_valid_host(url: str) -> bool:
    """Whether ``url`` names a host a browser could reach: DNS labels, an IP address, and a valid port."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    host = parts.hostname or ""
    if not host or len(host) > 253:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    return all(
        _LABEL.match(label) or (not label.isascii() and label.replace("-", "").isalnum()) for label in labels
    )


def _body(spec: RunSpec, where: str = "url") -> dict[str, Any]:
    body: dict[str, Any] = spec.model_dump(exclude_none=True, exclude={"url", "use_vault", "use_profile"})
    body["url"] = normalize_url(spec.url, where)
    # Naming credentials means using the vault, and naming a profile means using profiles:
    # only an explicit false is a contradiction (the request model then says so).
    use_vault = spec.use_vault
    if spec.credential_item_ids is not None and use_vault is None:
        use_vault = True
    if use_vault is not None:
        body["use_vault"] = use_vault
    use_profile = spec.use_profile
    if spec.profile_id is not None and use_profile is None:
        use_profile = True
    if use_profile is not None:
        body["use_profile"] = use_profile
    for name in ("agent_config", "capture_config"):
        if body.get(name) == {}:
            del body[name]
    return body


def run_request(
    spec: RunSpec, *, feature_flags: FeatureFlagsInput | None = None, api_integration: str | None = None
) -> RunRequest:
    """The upstream request for ``spec``, or a ``ToolError`` saying what to fix.

    ``feature_flags`` and the caller's ``api_integration`` are the run tools' own (batch
    items do not take them).
    """
    # the payload models load on first use, not at start-up
    from ..upstream.models import RunRequest, api_integration_for

    body = _body(spec)
    flags = feature_flags.model_dump(exclude_none=True) if feature_flags is not None else {}
    if flags:
        body["feature_flags"] = flags
    body["api_integration"] = api_integration_for(api_integration)
    try:
        return RunRequest.model_validate(body)
    except ValidationError as exc:
        raise invalid_input(exc, what="run arguments") from None


class _Batch(BaseModel):
    model_config = ConfigDict(defer_build=True)

    runs: list[RunSpec]


def batch_request(items: list[dict[str, Any]]) -> RunBatchRequest:
    """The upstream batch request for raw items; errors are named ``runs.<index>.<field>``.

    The batch tool advertises its items as plain objects (their fields are those of
    run_web_automation), so each is checked here, field by field.
    """
    from ..upstream.models import RunBatchRequest  # the payload models load on first use, not at start-up

    try:
        specs = _Batch.model_validate({"runs": items}).runs
        bodies = [_body(spec, f"runs[{i}].url") for i, spec in enumerate(specs)]
        return RunBatchRequest.model_validate({"runs": bodies})
    except ValidationError as exc:
        raise invalid_input(exc, what="batch") from None
