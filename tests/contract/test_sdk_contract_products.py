"""The product endpoints' half of the SDK contract (wallet, monitors, research, profiles,
datasets): the same two checks as ``test_sdk_contract.py``, one row per endpoint.

* an SDK response (all optional fields, then none) parses into our model without loss,
  and every field the SDK models is typed on our side unless the row says why not;
* every body our client sends is the body the SDK's own builder makes of the same arguments.
"""

from __future__ import annotations

from typing import Any

import pytest
from _sdk_shapes import lost, sdk_payload, undeclared
from pydantic import BaseModel
from tinyfish.datasets import _build_create_body as _build_dataset_body
from tinyfish.datasets import types as sdk_datasets
from tinyfish.monitors import _build_create_body
from tinyfish.monitors import types as sdk_monitors
from tinyfish.profiles import types as sdk_profiles
from tinyfish.research import _build_run_body as _build_research_body
from tinyfish.research import types as sdk_research
from tinyfish.wallet import types as sdk_wallet

from tinyfish_mcp.upstream import datasets, monitors, profiles, research, wallet

# (endpoint, SDK model, our model, SDK fields we keep untyped -> why, fixed sample values)
Row = tuple[str, type[BaseModel], type[BaseModel], dict[str, str], dict[str, Any]]
SPEC_AS_DICTS = {
    "spec.columns.name": "columns are read as plain objects (shown to the model as planned)",
    "spec.columns.label": "as above",
    "spec.columns.type": "as above",
    "spec.columns.is_primary_key": "as above",
    "spec.columns.retrieval_hint": "as above",
    "spec.keep_when.column": "kept as a plain object",
}
RESPONSES: list[Row] = [
    ("POST /v1/datasets/plan", sdk_datasets.DatasetPlanResponse, datasets.DatasetPlan, SPEC_AS_DICTS, {}),
    ("GET /v1/datasets/{id}", sdk_datasets.Dataset, datasets.Dataset, SPEC_AS_DICTS, {}),
    (
        "GET /v1/datasets",
        sdk_datasets.DatasetListResponse,
        datasets.DatasetList,
        {f"data.{k}": v for k, v in SPEC_AS_DICTS.items()},
        {},
    ),
    ("GET /v1/datasets/{id}/rows", sdk_datasets.DatasetRowsResponse, datasets.RowsPage, {}, {}),
    ("DELETE /v1/datasets/{id}", sdk_datasets.DatasetDeleteResponse, datasets.DatasetDeleted, {}, {}),
    (
        "POST .../runs/{run_id}/cancel",
        sdk_datasets.DatasetCancelRunResponse,
        datasets.DatasetRunCancel,
        {},
        {},
    ),
    ("GET /v1/wallet", sdk_wallet.WalletResponse, wallet.WalletResponse, {}, {}),
    ("GET /v1/monitors/{id}", sdk_monitors.Monitor, monitors.Monitor, {}, {}),
    ("GET /v1/monitors", sdk_monitors.MonitorListResponse, monitors.MonitorList, {}, {}),
    ("POST /v1/monitors", sdk_monitors.MonitorCreateResponse, monitors.MonitorCreated, {}, {}),
    ("POST /v1/monitors/{id}/runs", sdk_monitors.MonitorRunResponse, monitors.MonitorRunResponse, {}, {}),
    ("DELETE /v1/monitors/{id}", sdk_monitors.MonitorDeleteResponse, monitors.MonitorDeleted, {}, {}),
    ("GET /v1/research-run/{id}", sdk_research.ResearchRunDetail, research.ResearchRunDetail, {}, {}),
    ("GET /v1/research-run", sdk_research.ResearchListResponse, research.ResearchList, {}, {}),
    ("POST run-research-async", sdk_research.ResearchRunAsyncResponse, research.ResearchStarted, {}, {}),
    (
        "POST /v1/research-run/{id}/cancel",
        sdk_research.ResearchCancelResponse,
        research.ResearchCancel,
        {},
        {},
    ),
    (
        "run-research final_result",
        sdk_research.ResearchFinalResultEvent,
        research.ResearchEvent,
        {
            "result": "read from the event's payload by name (events vary; only the name is typed)",
            "citations": "read from the event's payload by name",
            "termination_reason": "read from the event's payload by name",
        },
        {"event": "final_result"},
    ),
    (
        "POST /v1/profiles/{id}/setup-session",
        sdk_profiles.ProfileSetupSession,
        profiles.ProfileSetupSession,
        {},
        {},
    ),
    ("POST /v1/profiles/{id}/save", sdk_profiles.ProfileSaveResult, profiles.ProfileSaveResult, {}, {}),
    (
        "POST .../setup-session/cancel",
        sdk_profiles.ProfileSetupCancelled,
        profiles.ProfileSetupCancelled,
        {},
        {},
    ),
    (
        "run-research created",
        sdk_research.ResearchCreatedEvent,
        research.ResearchEvent,
        {},
        {"event": "created"},
    ),
]


@pytest.mark.parametrize("full", [True, False], ids=["all-fields", "required-only"])
@pytest.mark.parametrize("row", RESPONSES, ids=[r[0] for r in RESPONSES])
def test_sdk_product_response_parses_without_loss(row: Row, full: bool) -> None:
    _, sdk, ours, _, fixed = row
    payload = sdk_payload(sdk, full=full, fixed=fixed)
    parsed = ours.model_validate(payload)
    assert lost(payload, parsed.model_dump(mode="json", by_alias=True)) == []


@pytest.mark.parametrize("row", RESPONSES, ids=[r[0] for r in RESPONSES])
def test_every_sdk_product_field_is_typed_on_our_side(row: Row) -> None:
    endpoint, sdk, ours, untyped, _ = row
    missing = [path for path in undeclared(sdk, ours) if path not in untyped]
    assert missing == [], f"{endpoint}: declare these fields in our model (or list why not): {missing}"


def _monitor_bodies() -> list[dict[str, Any]]:
    search = monitors.MonitorCreateRequest(
        type="search", config=monitors.SearchMonitorConfig(query="tide tables"), schedule_cron="0 * * * *"
    )
    fetch = monitors.MonitorCreateRequest(
        type="fetch",
        config=monitors.FetchMonitorConfig(
            url="https://example.com", format="markdown", links=True, image_links=False
        ),
        schedule_cron="CRON_TZ=Europe/Paris 0 9 * * *",
        name="n",
        webhook_url="https://hooks.example.com/m",
        purpose="the price drops",
    )
    full_search = monitors.MonitorCreateRequest(
        type="search",
        config=monitors.SearchMonitorConfig(query="q", recency_minutes=60, result_limit=5),
        schedule_cron="0 */6 * * *",
    )
    return [search.to_body(), fetch.to_body(), full_search.to_body()]


def _research_bodies() -> list[dict[str, Any]]:
    return [
        research.ResearchRequest(query="tide tables").to_body(),
        research.ResearchRequest(
            query="tide tables",
            mode="max",
            output_language="fr",
            domain_type="news",
            after_date="2026-01-01",
            before_date="2026-02-01",
            recency_minutes=60,
            weak_sources_enabled=True,
            domain_filter=research.ResearchDomainFilter(mode="include", domains=["a.org"], block=["b.org"]),
            prior_run_id="rr_1",
        ).to_body(),
    ]


def test_monitor_bodies_are_sdk_bodies() -> None:
    for body in _monitor_bodies():
        sdk_body = _build_create_body(
            body["type"], body["config"], body["schedule_cron"],
            body.get("name"), body.get("webhook_url"), body.get("purpose"),
        )  # fmt: skip
        assert sdk_body == body


def test_research_bodies_are_sdk_bodies() -> None:
    defaults: dict[str, Any] = dict.fromkeys(
        ("output_language", "domain_type", "after_date", "before_date", "recency_minutes",
         "weak_sources_enabled", "domain_filter", "prior_run_id", "session_id"),
    )  # fmt: skip
    for body in _research_bodies():
        expected = _build_research_body(**{**defaults, "mode": "deep", **body})
        assert {**body, "mode": body.get("mode", "deep")} == expected


def test_dataset_bodies_are_sdk_bodies() -> None:
    spec = datasets.DatasetSpec.model_validate(
        {
            "name": "Grinders",
            "description": "Coffee grinders",
            "columns": [
                {"name": "name", "type": "string", "is_primary_key": True},
                {"name": "in_stock", "label": "In stock", "type": "boolean", "is_primary_key": False,
                 "retrieval_hint": "the availability badge"},
            ],
            "keep_when": {"column": "in_stock"},
        }
    )  # fmt: skip
    for request in (
        datasets.DatasetCreateRequest(prompt="Coffee grinders"),
        datasets.DatasetCreateRequest(spec=spec, target_rows=20, populate=False),
    ):
        body = request.to_body()
        assert (
            _build_dataset_body(
                body.get("prompt"), body.get("spec"), body.get("target_rows"), body.get("populate")
            )
            == body
        )
