"""Contract with the official ``tinyfish`` SDK: its models are the live wire format.

Two tables, one row per endpoint both sides know; add a row when either side learns a
new endpoint (another product, a new response model):

* ``RESPONSES``: payloads generated from the SDK's response model, with every optional
  field present and with none, parse into our upstream model without losing a value,
  and every field the SDK models is a declared (typed) field of ours, unless the row
  says why the tools never read it.
* ``REQUESTS``: every body our client sends (smallest and fullest) is one the SDK could
  send: known fields, values its types accept, nested objects its models accept, except
  the fields a row lists as accepted by the API beyond the SDK (with the reason).

Endpoints without SDK models (run-batch, runs/batch, runs/batch/cancel, usage, steps)
are covered by the emulator's own tests. When TinyFish ships a new SDK, a drift shows
here first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from _sdk_shapes import lost, request_problems, sdk_payload, undeclared
from pydantic import BaseModel
from tinyfish.agent import _build_run_body
from tinyfish.agent import types as sdk_agent
from tinyfish.browser import types as sdk_browser
from tinyfish.fetch import AsyncFetchResource
from tinyfish.fetch import types as sdk_fetch
from tinyfish.monitors import _build_create_body
from tinyfish.monitors import types as sdk_monitors
from tinyfish.research import _build_run_body as _build_research_body
from tinyfish.research import types as sdk_research
from tinyfish.runs import AsyncRunsResource
from tinyfish.runs import types as sdk_runs
from tinyfish.search import _build_search_params
from tinyfish.search import types as sdk_search
from tinyfish.vault import types as sdk_vault
from tinyfish.wallet import types as sdk_wallet

from tinyfish_mcp.upstream import models as ours
from tinyfish_mcp.upstream import monitors as our_monitors
from tinyfish_mcp.upstream import research as our_research
from tinyfish_mcp.upstream import wallet as our_wallet


@dataclass(frozen=True)
class Response:
    endpoint: str
    sdk: type[BaseModel]
    ours: type[BaseModel]
    parse: Callable[[dict[str, Any]], BaseModel] | None = None  # default: ours.model_validate
    # SDK fields we keep only as extras, each with the reason the tools never read them.
    untyped: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)  # top-level values the sample must have


def _event(kind: str, sdk: type[BaseModel], ours_model: type[BaseModel]) -> Response:
    return Response(f"run-sse {kind}", sdk, ours_model, ours.parse_event, fixed={"type": kind})


RESPONSES = [
    Response("POST /v1/automation/run", sdk_agent.AgentRunResponse, ours.SyncRunResponse),
    Response("POST /v1/automation/run-async", sdk_agent.AgentRunAsyncResponse, ours.AsyncRunResponse),
    _event("STARTED", sdk_agent.StartedEvent, ours.StartedEvent),
    _event("STREAMING_URL", sdk_agent.StreamingUrlEvent, ours.StreamingUrlEvent),
    _event("PROGRESS", sdk_agent.ProgressEvent, ours.ProgressEvent),
    _event("HEARTBEAT", sdk_agent.HeartbeatEvent, ours.HeartbeatEvent),
    _event("COMPLETE", sdk_agent.CompleteEvent, ours.CompleteEvent),
    Response("GET /v1/runs/{id}", sdk_runs.Run, ours.Run),
    Response("GET /v1/runs", sdk_runs.RunListResponse, ours.RunList),
    Response("POST /v1/fetch", sdk_fetch.FetchResponse, ours.FetchResponse),
    Response("GET /v1/search", sdk_search.SearchQueryResponse, ours.SearchResponse),
    Response("POST /v1/browser", sdk_browser.BrowserSession, ours.BrowserSession),
    Response(
        "GET /v1/vault/items",
        sdk_vault.VaultListItemsResponse,
        ours.VaultItemList,
        untyped={"items.field_metadata": "field names and types of a credential; never shown to the model"},
    ),
    Response("GET /v1/vault/connections", sdk_vault.VaultListConnectionsResponse, ours.VaultConnectionList),
    Response("GET /v1/wallet", sdk_wallet.WalletResponse, our_wallet.WalletResponse),
    Response("GET /v1/monitors/{id}", sdk_monitors.Monitor, our_monitors.Monitor),
    Response("GET /v1/monitors", sdk_monitors.MonitorListResponse, our_monitors.MonitorList),
    Response("DELETE /v1/monitors/{id}", sdk_monitors.MonitorDeleteResponse, our_monitors.MonitorDeleted),
    Response("search monitor run", sdk_monitors.SearchMonitorRun, our_monitors.SearchMonitorRun),
    Response("fetch monitor run", sdk_monitors.FetchMonitorRun, our_monitors.FetchMonitorRun),
    Response("GET research run", sdk_research.ResearchRunDetail, our_research.ResearchRunDetail),
    Response("POST run-research-async", sdk_research.ResearchRunAsyncResponse, our_research.ResearchStarted),
    Response("GET research runs", sdk_research.ResearchListResponse, our_research.ResearchList),
    Response("POST research cancel", sdk_research.ResearchCancelResponse, our_research.ResearchCancel),
    Response("POST /v1/monitors (search)", sdk_monitors.MonitorCreateResponse, our_monitors.MonitorCreated),
    Response(
        "POST /v1/monitors (fetch)",
        sdk_monitors.MonitorCreateResponse,
        our_monitors.MonitorCreated,
        fixed={"run": sdk_payload(sdk_monitors.FetchMonitorRun, full=True)},
    ),
]


def _event_parser(row: Response) -> Callable[[dict[str, Any]], BaseModel]:
    return row.parse or row.ours.model_validate


@pytest.mark.parametrize("full", [True, False], ids=["all-fields", "required-only"])
@pytest.mark.parametrize("row", RESPONSES, ids=[r.endpoint for r in RESPONSES])
def test_sdk_response_parses_without_loss(row: Response, full: bool) -> None:
    payload = sdk_payload(row.sdk, full=full, fixed=row.fixed)
    parsed = _event_parser(row)(payload)
    assert isinstance(parsed, row.ours)
    # The events' ids travel as camelCase on the SDK side; ours reads both spellings.
    kept = parsed.model_dump(mode="json", by_alias=True)
    for camel, snake in (("runId", "run_id"), ("streamingUrl", "streaming_url")):
        if camel in payload and snake in kept:
            kept[camel] = kept.pop(snake)
    assert lost(payload, kept) == []


@pytest.mark.parametrize("row", RESPONSES, ids=[r.endpoint for r in RESPONSES])
def test_every_sdk_field_is_typed_on_our_side(row: Response) -> None:
    missing = [path for path in undeclared(row.sdk, row.ours) if path not in row.untyped]
    assert missing == [], f"{row.endpoint}: declare these fields in our model (or list why not): {missing}"


@dataclass(frozen=True)
class Request:
    endpoint: str
    bodies: Callable[[], list[dict[str, Any]]]  # what our client sends, smallest to fullest
    sdk: type[BaseModel] | Callable[..., Any]
    nested: dict[str, type[BaseModel]] = field(default_factory=dict)
    beyond: dict[str, str] = field(default_factory=dict)  # path -> why the API takes it anyway


def _run_bodies() -> list[dict[str, Any]]:
    return [
        ours.RunRequest(url="https://example.com", goal="Find the price").to_body(),
        ours.RunRequest(
            url="https://example.com",
            goal="Find the price",
            browser_profile="stealth",
            proxy_config=ours.ProxyConfig(enabled=True, type="tetra", country_code="US"),
            output_schema={"type": "object"},
            agent_config=ours.AgentConfig(mode="strict", max_steps=20, max_duration_seconds=300),
            capture_config=ours.CaptureConfig(screenshots=True, recording=False),
            webhook_url="https://hooks.example.com/tf",
            use_vault=True,
            credential_item_ids=["cred:1"],
            use_profile=True,
            profile_id="prof_1",
        ).to_body(),
        ours.RunRequest(
            url="https://example.com",
            goal="Find the price",
            proxy_config=ours.ProxyConfig(
                type="custom", url="http://proxy.example.com:8080", username="u", password="p"
            ),
        ).to_body(),
        # What run_web_automation sends for the hosted arguments: any ISO country, the cursor.
        ours.RunRequest(
            url="https://example.com",
            goal="Find the price",
            proxy_config=ours.ProxyConfig(country_code="IN"),
            agent_config=ours.AgentConfig(cursor_style="green-pointer", mode="default"),
            capture_config=ours.CaptureConfig(elements=True, snapshots=True, html=True),
            use_profile=True,
        ).to_body(),
    ]


def _fetch_bodies() -> list[dict[str, Any]]:
    return [
        ours.FetchRequest(urls=["https://example.com"]).to_body(),
        ours.FetchRequest(
            urls=["https://example.com/a"],
            purpose="compare prices",
            format="markdown",
            include_html_head=False,
            links=True,
            image_links=True,
            ttl=0,
            per_url_timeout_ms=20_000,
            if_none_match='"v1"',
            if_modified_since="Mon, 02 Jan 2026 03:04:05 GMT",
            include_etag_and_last_modified=True,
            highlights=ours.FetchHighlights(
                query="price", max_snippets=3, max_characters=800, include_full_page_text=True
            ),
            include_selectors=["main"],
            exclude_selectors=["nav"],
            proxy_config=ours.FetchProxyConfig(country_code="US"),
        ).to_body(),
    ]


def _search_bodies() -> list[dict[str, Any]]:
    return [
        ours.SearchParams(query="tide tables").to_body(),
        ours.SearchParams(
            query="tide tables",
            purpose="plan a coastal walk",
            location="FR",
            language="fr",
            include_domains="example.com,example.org",
            exclude_domains="pinterest.com",
            recency_minutes=1440,
            domain_type="news",
            include_thumbnail=True,
            page=2,
        ).to_body(),
        ours.SearchParams(
            query="tidal models", domain_type="research_paper", pub_year_min=500, pub_year_max=2024
        ).to_body(),
        ours.SearchParams(query="tides", after_date="2026-01-01", before_date="2026-02-01").to_body(),
    ]


REQUESTS = [
    Request(
        "POST /v1/automation/run (and run-async, run-sse)",
        _run_bodies,
        _build_run_body,
        nested={
            "proxy_config": sdk_agent.ProxyConfig,
            "agent_config": sdk_agent.AgentConfig,
            "capture_config": sdk_agent.CaptureConfig,
        },
        beyond={
            "proxy_config.type": "the Agent API reference documents tetra|custom proxies",
            "proxy_config.url": "documented for custom proxies",
            "proxy_config.username": "documented for custom proxies",
            "proxy_config.password": "documented for custom proxies",
            "api_integration": "the SDK adds it from TF_API_INTEGRATION on automation routes",
        },
    ),
    Request(
        "POST /v1/fetch",
        _fetch_bodies,
        AsyncFetchResource.get_contents,
        nested={"highlights": sdk_fetch.FetchHighlights},
        beyond={
            "include_selectors": "a hosted fetch_content argument the Fetch API takes (1-20 CSS selectors)",
            "exclude_selectors": "a hosted fetch_content argument the Fetch API takes (1-20 CSS selectors)",
            "proxy_config": "the Fetch API reference documents proxy_config.country_code",
        },
    ),
    Request(
        "GET /v1/search",
        _search_bodies,
        _build_search_params,
        beyond={"include_thumbnail": "a hosted search argument ('true'/'false')"},
    ),
    Request(
        "GET /v1/runs",
        lambda: [
            ours.ListRunsParams().to_body(),
            ours.ListRunsParams(
                status="RUNNING",
                goal="price",
                created_after="2026-01-01T00:00:00Z",
                created_before="2026-02-01T00:00:00Z",
                sort_direction="asc",
                cursor="c1",
                limit=20,
            ).to_body(),
        ],
        AsyncRunsResource.list,
    ),
    Request(
        "POST /v1/browser",
        lambda: [
            ours.BrowserSessionRequest().to_body(),
            ours.BrowserSessionRequest(url="https://example.com", timeout_seconds=300).to_body(),
            ours.BrowserSessionRequest(
                url="https://example.com",
                proxy_config=ours.BrowserProxyConfig(
                    type="custom",
                    country_code="DE",
                    url="http://proxy.example.com:8080",
                    username="u",
                    password="p",
                ),
            ).to_body(),
        ],
        sdk_browser.BrowserSessionCreateParams,
    ),
    Request(
        "POST research runs",
        lambda: [
            our_research.ResearchRequest(query="tide pool ecology").to_body(),
            our_research.ResearchRequest(
                query="tide pool ecology",
                mode="max",
                output_language="fr",
                domain_type="news",
                recency_minutes=1440,
                weak_sources_enabled=False,
                domain_filter=our_research.ResearchDomainFilter(
                    mode="include", domains=["example.org"], block=["example.net"]
                ),
                prior_run_id="rr_1",
            ).to_body(),
        ],
        _build_research_body,
        nested={"domain_filter": sdk_research.ResearchDomainFilter},
    ),
]


@pytest.mark.parametrize("row", REQUESTS, ids=[r.endpoint for r in REQUESTS])
def test_our_request_bodies_are_sdk_bodies(row: Request) -> None:
    bodies = row.bodies()
    assert len(bodies) >= 2
    for body in bodies:
        problems = request_problems(body, row.sdk, nested=row.nested, beyond=frozenset(row.beyond))
        assert problems == [], f"{row.endpoint}: {problems}"
    # Whatever the API takes beyond the SDK is really sent by the fullest body.
    sent = {f"{k}.{n}" for b in bodies for k, v in b.items() if isinstance(v, dict) for n in v}
    sent |= {k for b in bodies for k in b}
    assert set(row.beyond) - {"api_integration"} <= sent


def test_search_query_strings_equal_the_sdks() -> None:
    """Beyond shape: the SDK's own builder turns the same arguments into the same strings."""
    for params in _search_bodies():
        ours_typed = ours.SearchParams.model_validate(params).model_dump(exclude_none=True)
        ours_typed.pop("include_thumbnail", None)
        expected = _build_search_params(**ours_typed)
        sent = {k: v for k, v in params.items() if k != "include_thumbnail"}
        assert sent == expected


def test_fetch_body_passes_the_sdks_own_checks() -> None:
    """The SDK checks some combinations client-side; our fullest body passes them."""
    from tinyfish import fetch as sdk_fetch_module

    for body in _fetch_bodies():
        urls = body["urls"]
        sdk_fetch_module._validate_urls(urls)
        sdk_fetch_module._validate_purpose(body.get("purpose"))
        sdk_fetch_module._validate_ttl(body.get("ttl"))
        sdk_fetch_module._validate_per_url_timeout_ms(body.get("per_url_timeout_ms"))
        sdk_fetch_module._validate_conditional_headers(
            urls, body.get("if_none_match"), body.get("if_modified_since")
        )
        sdk_fetch_module._validate_highlights(body.get("format"), body.get("highlights"))


def test_monitor_bodies_equal_the_sdks() -> None:
    """The SDK's own builder turns the same arguments into the same create body."""
    bodies = [
        our_monitors.MonitorCreateRequest(
            type="search",
            config=our_monitors.SearchMonitorConfig(
                query="tide tables", recency_minutes=1440, result_limit=5
            ),
            schedule_cron="0 */6 * * *",
        ).to_body(),
        our_monitors.MonitorCreateRequest(
            type="fetch",
            config=our_monitors.FetchMonitorConfig(
                url="https://example.com/p", format="markdown", links=True
            ),
            schedule_cron="CRON_TZ=Europe/Paris 0 9 * * *",
            name="Price",
            webhook_url="https://hooks.example.com/m",
            purpose="the price drops",
        ).to_body(),
    ]
    for body in bodies:
        expected = _build_create_body(
            type=body["type"],
            config=body["config"],
            schedule_cron=body["schedule_cron"],
            name=body.get("name"),
            webhook_url=body.get("webhook_url"),
            purpose=body.get("purpose"),
        )
        assert body == expected
