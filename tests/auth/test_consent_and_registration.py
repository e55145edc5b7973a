"""The consent page (CSRF, bad keys, decline, rate limit) and client registration."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from oauth_helpers import (
    GOOD_KEY,
    REDIRECT,
    Database,
    Harness,
    authorize_params,
    form_fields,
    hosted_harness,
    make_settings,
    new_pkce,
    query_of,
    register,
    submit_consent,
)

# --- the consent page -----------------------------------------------------------------


async def _consent_location(http: httpx2.AsyncClient) -> str:
    client = await register(http)
    _, challenge = new_pkce()
    response = await http.get("/authorize", params=authorize_params(client.client_id, challenge))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("http://127.0.0.1:8765/consent?txn=")
    return location


async def test_consent_page_shows_client_and_redirect_host(http: httpx2.AsyncClient) -> None:
    page = await http.get(await _consent_location(http))
    assert page.status_code == 200
    assert "Manual Test Client" in page.text
    assert "127.0.0.1:53682" in page.text
    assert 'type="password"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_bad_api_key_re_renders_with_error_and_issues_no_code(
    harness: Harness, http: httpx2.AsyncClient
) -> None:
    location = await _consent_location(http)
    response = await submit_consent(http, location, "sk-not-a-real-key")
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "TinyFish did not accept this API key" in response.text
    assert "sk-not-a-real-key" not in response.text  # the key is never echoed back
    assert harness.checker.calls == 1
    assert await harness.db.count("tfmcp_codes") == 0
    assert await harness.db.count("tfmcp_grants") == 0

    # The re-rendered page is a working form: a good key now completes the sign-in.
    fields = form_fields(response.text)
    done = await http.post("/consent", data={**fields, "api_key": GOOD_KEY, "action": "approve"})
    assert done.status_code == 303
    assert "code" in query_of(done.headers["location"])


async def test_unreachable_upstream_re_renders_with_a_retry_message(
    tmp_path: Path, database: Database
) -> None:
    async def upstream_down(api_key: str) -> bool:
        raise ConnectionError(f"could not connect while checking {api_key}")

    settings = make_settings(tmp_path, mcp_database_url=database.url)
    async with (
        hosted_harness(settings, checker=upstream_down) as harness,
        harness.http() as http,
    ):
        response = await submit_consent(http, await _consent_location(http), GOOD_KEY)
        assert response.status_code == 503
        assert "Could not reach TinyFish" in response.text
        assert GOOD_KEY not in response.text
        assert await harness.db.count("tfmcp_codes") == 0


async def test_bad_csrf_token_is_refused_without_checking_the_key(
    harness: Harness, http: httpx2.AsyncClient
) -> None:
    location = await _consent_location(http)
    page = await http.get(location)
    fields = form_fields(page.text)
    response = await http.post("/consent", data={**fields, "csrf": "forged", "api_key": GOOD_KEY})
    assert response.status_code == 403
    assert "location" not in response.headers
    assert harness.checker.calls == 0

    # Without the browser's consent cookie, a correct-looking token is refused too.
    async with harness.http() as other_browser:
        response = await other_browser.post("/consent", data={**fields, "api_key": GOOD_KEY})
    assert response.status_code == 403
    assert harness.checker.calls == 0


async def test_consent_is_single_use_and_can_be_declined(http: httpx2.AsyncClient) -> None:
    location = await _consent_location(http)
    page = await http.get(location)
    fields = form_fields(page.text)
    declined = await http.post("/consent", data={**fields, "action": "deny"})
    assert declined.status_code == 303
    query = query_of(declined.headers["location"])
    assert query["error"] == "access_denied"
    assert query["state"] == "state-123"
    again = await http.post("/consent", data={**fields, "api_key": GOOD_KEY, "action": "approve"})
    assert again.status_code == 400
    assert "expired" in again.text
    assert (await http.get(location)).status_code == 400


async def test_consent_posts_are_rate_limited_per_address(http: httpx2.AsyncClient) -> None:
    location = await _consent_location(http)
    fields = form_fields((await http.get(location)).text)
    statuses = [
        (await http.post("/consent", data={**fields, "csrf": "x", "api_key": "k"})).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [403] * 10
    assert statuses[10] == 429


# --- registration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://example.com/callback",
        "myapp://callback",
        "https://example.com/cb#fragment",
        "http://10.0.0.5/cb",
    ],
)
async def test_registration_refuses_non_https_non_loopback_redirects(
    http: httpx2.AsyncClient, redirect_uri: str
) -> None:
    response = await http.post(
        "/register",
        json={"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none", "client_name": "x"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://app.example.com/oauth/callback", "http://localhost:3000/cb", "http://[::1]:9/cb"],
)
async def test_registration_accepts_https_and_loopback_redirects(
    http: httpx2.AsyncClient, redirect_uri: str
) -> None:
    client = await register(http, redirect_uris=[redirect_uri])
    assert client.client_id
    assert client.client_secret is None
    assert client.scope == "tinyfish"


async def test_registration_is_rate_limited_per_address(http: httpx2.AsyncClient) -> None:
    statuses = [
        (
            await http.post(
                "/register", json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
            )
        ).status_code
        for _ in range(21)
    ]
    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
