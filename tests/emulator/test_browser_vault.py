"""Browser sessions (create, /pages, usage) and the Vault API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import wait_for


def test_create_session_returns_201_with_urls_on_the_emulator(api: httpx.Client, emulator: Any) -> None:
    response = api.post("/v1/browser", json={"url": "https://www.tinyfish.ai", "timeout_seconds": 300})

    assert response.status_code == 201
    session = response.json()
    assert set(session) == {"session_id", "cdp_url", "base_url"}
    session_id = session["session_id"]
    assert session_id.startswith("br-") and len(session_id) == 39
    host = emulator.base_url.removeprefix("http://")
    assert session["cdp_url"] == f"ws://{host}/_browser/{session_id}/cdp"
    assert session["base_url"] == f"{emulator.base_url}/_browser/{session_id}"


def test_pages_show_blank_then_the_navigated_page(api: httpx.Client, emulator: Any) -> None:
    session = api.post("/v1/browser", json={"url": "scrapeme.live/shop"}).json()
    pages_url = session["base_url"] + "/pages"

    first = emulator.http.get(pages_url).json()  # no API key: the session URL is enough
    assert [page["url"] for page in first] == ["about:blank"]

    def navigated() -> list[dict[str, Any]] | None:
        pages: list[dict[str, Any]] = emulator.http.get(pages_url).json()
        return pages if pages[0]["url"] != "about:blank" else None

    [page] = wait_for(navigated)
    assert page["url"] == "https://scrapeme.live/shop"  # bare domain got https://
    assert page["type"] == "page"
    assert page["devtoolsFrontendUrl"].startswith(session["base_url"] + "/devtools/inspector.html?ws=")
    assert page["webSocketDebuggerUrl"].startswith("ws://")
    assert page["id"] == first[0]["id"]


def test_session_without_url_stays_blank(api: httpx.Client, emulator: Any) -> None:
    session = api.post("/v1/browser", json={}).json()

    pages = emulator.http.get(session["base_url"] + "/pages").json()

    assert pages[0]["url"] == "about:blank"


def test_session_accepts_an_empty_body(api: httpx.Client) -> None:
    assert api.post("/v1/browser").status_code == 201


def test_unknown_session_pages_are_not_found(emulator: Any) -> None:
    response = emulator.http.get(f"{emulator.base_url}/_browser/br-nope/pages")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"url": "not a url"}, ["url"]),
        ({"url": 12}, ["url"]),
        ({"timeout_seconds": 4}, ["timeout_seconds"]),
        ({"timeout_seconds": 86401}, ["timeout_seconds"]),
        ({"timeout_seconds": "60"}, ["timeout_seconds"]),
    ],
)
def test_session_validation(api: httpx.Client, body: dict[str, Any], path: list[str]) -> None:
    response = api.post("/v1/browser", json=body)

    assert response.status_code == 400
    assert [detail["path"] for detail in response.json()["error"]["details"]] == [path]


def test_browser_usage_lists_the_callers_sessions(api: httpx.Client, emulator: Any) -> None:
    mine = api.post("/v1/browser", json={"url": "example.com"}).json()["session_id"]
    api.post("/v1/browser", json={}, headers={"X-API-Key": emulator.other_key})

    usage = api.get("/v1/browser/usage").json()

    assert [record["session_id"] for record in usage["data"]] == [mine]
    assert usage["data"][0]["status"] == "active"
    assert set(usage["data"][0]) >= {"duration_seconds", "data_transfer_bytes", "mode", "status"}
    assert usage["pagination"] == {
        "total": 1,
        "next_cursor": None,
        "has_more": False,
        "page": 1,
        "limit": 100,
        "total_pages": 1,
    }


# --------------------------------------------------------------------------- vault


def test_vault_lists_connections_and_items_in_camel_case(api: httpx.Client) -> None:
    connections = api.get("/v1/vault/connections").json()["connections"]
    items = api.get("/v1/vault/items").json()["items"]

    assert connections == [
        {
            "id": "vc-1password-demo",
            "provider": "1password",
            "connectionStatus": "connected",
            "lastValidatedAt": connections[0]["lastValidatedAt"],
        }
    ]
    assert [item["itemId"] for item in items] == [
        "op://Personal/shop-login",
        "op://Work/crm-admin",
        "op://Personal/newsletter",
    ]
    crm = items[1]
    assert crm["hasTotp"] is True and crm["vaultName"] == "Work"
    assert crm["connectionId"] == "vc-1password-demo"
    assert [field["type"] for field in crm["fieldMetadata"]] == ["STRING", "CONCEALED", "OTP"]


def test_vault_connect_sync_and_disconnect(api: httpx.Client) -> None:
    bad = api.post("/v1/vault/connections", json={"provider": "bitwarden", "clientId": "user.x"})
    assert bad.status_code == 400
    made = api.post(
        "/v1/vault/connections",
        json={"provider": "bitwarden", "clientId": "user.x", "clientSecret": "s", "masterPassword": "m"},
    ).json()
    assert made["connected"] is True and made["provider"] == "bitwarden"
    assert len(api.get("/v1/vault/items").json()["items"]) == 6
    again = api.post("/v1/vault/connections", json={"provider": "1password", "token": "ops_abc"})
    assert again.status_code == 400  # already connected

    synced = api.post("/v1/vault/items/sync").json()
    assert synced["sync_summary"] == {"added": 0, "updated": 6, "removed": 0}

    gone = api.delete(f"/v1/vault/connections/{made['connectionId']}").json()
    assert gone == {"disconnected": True, "connectionId": made["connectionId"]}
    assert len(api.get("/v1/vault/items").json()["items"]) == 3
    assert api.delete("/v1/vault/connections/vc-missing").status_code == 404


def test_vault_items_can_be_disabled_and_enabled(api: httpx.Client) -> None:
    disabled = api.patch("/v1/vault/items/op://Work/crm-admin/disable").json()
    assert disabled["enabled"] is False
    enabled = api.patch("/v1/vault/items/op://Work/crm-admin/enable").json()
    assert enabled["enabled"] is True
    assert api.patch("/v1/vault/items/op://none/x/enable").status_code == 404


def test_vault_is_per_key(api: httpx.Client, emulator: Any) -> None:
    api.patch("/v1/vault/items/op://Work/crm-admin/disable")

    theirs = api.get("/v1/vault/items", headers={"X-API-Key": emulator.other_key}).json()["items"]

    assert all(item["enabled"] for item in theirs)
