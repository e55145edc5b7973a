"""Tool arguments of a run, and turning them into the upstream ``RunRequest``.

Everything is checked here, before any upstream call, and a mistake comes back as a
tool error that names the field and how to fix it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..upstream.models import RunBatchRequest, RunRequest
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


def normalize_url(url: str) -> str:
    """Accept a bare domain (``example.com/page``) by giving it ``https://``."""
    url = url.strip()
    if url and "://" not in url:
        return f"https://{url}"
    return url


def _body(spec: RunSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"url": normalize_url(spec.url), "goal": spec.goal}
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
        return RunBatchRequest.model_validate({"runs": [_body(spec) for spec in specs]})
    except ValidationError as exc:
        raise invalid_input(exc, what="batch") from None
