"""Tool arguments of a run, and turning them into the upstream ``RunRequest``.

Everything is checked here, before any upstream call, and a mistake comes back as a
tool error that names the field and how to fix it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..upstream.models import RunBatchRequest, RunRequest
from ._wording import safe_text, shown
from .errors import invalid_input

__all__ = [
    "BrowserProfile",
    "CredentialIds",
    "MaxSteps",
    "OutputSchema",
    "Profile",
    "ProxyInput",
    "RunSpec",
    "Url",
    "batch_request",
    "normalize_url",
    "run_request",
]

# A scheme-like prefix with no '//' (mailto:, javascript:), but not host:port.
_BARE_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+-]*:(?!\d)")

# Argument descriptions are few and short: tools/list is sent on every turn (12 KB budget).
Url = Annotated[str, Field(description="Start page (a bare domain gets https://)")]
BrowserProfile = Annotated[
    Literal["lite", "stealth"] | None, Field(description="stealth: bot-protected sites")
]
OutputSchema = Annotated[dict[str, Any] | None, Field(description="JSON Schema of the result (recommended)")]
MaxSteps = Annotated[int | None, Field(ge=1, le=500)]
CredentialIds = Annotated[list[str] | None, Field(description="ids from list_vault_items")]
Profile = Literal["lite", "stealth"] | None


class ProxyInput(BaseModel):
    # No docstring: it would become a schema description, sent on every tools/list.

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    country_code: Literal["US", "GB", "CA", "DE", "FR", "JP", "AU"] | None = None


class RunSpec(BaseModel):
    """One run of a batch: the same fields as run_web_automation."""

    model_config = ConfigDict(extra="forbid")

    url: str
    goal: str
    browser_profile: Literal["lite", "stealth"] | None = None
    proxy_config: ProxyInput | None = None
    output_schema: dict[str, Any] | None = None
    max_steps: MaxSteps = None
    use_vault: bool | None = None
    credential_item_ids: list[str] | None = None
    webhook_url: str | None = None


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
    body: dict[str, Any] = {"url": normalize_url(spec.url, where), "goal": spec.goal}
    if spec.browser_profile is not None:
        body["browser_profile"] = spec.browser_profile
    if spec.proxy_config is not None:
        body["proxy_config"] = spec.proxy_config.model_dump(exclude_none=True)
    if spec.output_schema is not None:
        body["output_schema"] = spec.output_schema
    if spec.max_steps is not None:
        body["agent_config"] = {"max_steps": spec.max_steps}
    use_vault = spec.use_vault
    if spec.credential_item_ids is not None and use_vault is None:
        # Naming credentials means using the vault; only an explicit false is a contradiction.
        use_vault = True
    if use_vault is not None:
        body["use_vault"] = use_vault
    if spec.credential_item_ids is not None:
        body["credential_item_ids"] = spec.credential_item_ids
    if spec.webhook_url is not None:
        body["webhook_url"] = spec.webhook_url
    return body


def run_request(spec: RunSpec) -> RunRequest:
    """The upstream request for ``spec``, or a ``ToolError`` saying what to fix."""
    try:
        return RunRequest.model_validate(_body(spec))
    except ValidationError as exc:
        raise invalid_input(exc, what="run arguments") from None


class _Batch(BaseModel):
    runs: list[RunSpec]


def batch_request(items: list[dict[str, Any]]) -> RunBatchRequest:
    """The upstream batch request for raw items; errors are named ``runs.<index>.<field>``.

    The batch tool advertises its items as plain objects (their fields are those of
    run_web_automation), so each is checked here, field by field.
    """
    try:
        specs = _Batch.model_validate({"runs": items}).runs
        bodies = [_body(spec, f"runs[{i}].url") for i, spec in enumerate(specs)]
        return RunBatchRequest.model_validate({"runs": bodies})
    except ValidationError as exc:
        raise invalid_input(exc, what="batch") from None
