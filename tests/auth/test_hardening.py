"""The hosted surface under abuse: ``/authorize`` bounds and limits, ``/token``'s resource check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
from oauth_helpers import (
    BASE,
    RESOURCE,
    Database,
    Harness,
    authorize_params,
    exchange,
    hosted_harness,
    make_settings,
    new_pkce,
    obtain_code,
    register,
)

OTHER_RESOURCE = "https://other.example.com/mcp"

# --- /authorize: sizes ------------------------------------------------------------------


async def _asgi_get(harness: Harness, path: str, query: bytes) -> tuple[int, bytes]:
    """One GET straight into the app: no HTTP client or server caps the URL's length on the way."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8765")],
        "client": ("127.0.0.1", 4000),
        "server": ("127.0.0.1", 8765),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await harness.app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


async def test_a_megabyte_state_is_refused_and_nothing_is_stored(
    harness: Harness, http: httpx2.AsyncClient
) -> None:
    client = await register(http)
    _, challenge = new_pkce()
    huge = "s" * 1_000_000
    params = authorize_params(client.client_id, challenge, state=huge)
    status, body = await _asgi_get(harness, "/authorize", urlencode(params).encode())
    assert status == 400
    assert len(body) < 500  # never echoed back, and never a redirect that would have to carry it
    assert json.loads(body)["error"] == "invalid_request"
    assert await harness.db.count("tfmcp_pending") == 0

    # Through an HTTP client, with the longest state a URL may carry there.
    response = await http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, state="s" * 60_000)
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    # By POST the body limit answers first.
    posted = await http.post("/authorize", data=params)
    assert posted.status_code == 413
    assert await harness.db.count("tfmcp_pending") == 0


async def test_each_parameter_has_a_bound_and_may_appear_once(
    harness: Harness, http: httpx2.AsyncClient
) -> None:
    client = await register(http)
    _, challenge = new_pkce()
    for name, size in (("state", 2049), ("scope", 257), ("resource", 2049), ("code_challenge", 129)):
        params = authorize_params(client.client_id, challenge, **{name: "a" * size})
        response = await http.post("/authorize", data=params)
        assert response.status_code == 400, name
        assert response.json() == {
            "error": "invalid_request",
            "error_description": f"the {name} parameter is longer than {size - 1} characters",
        }
    twice = [*authorize_params(client.client_id, challenge).items(), ("state", "second")]
    response = await http.get("/authorize", params=twice)
    assert response.status_code == 400
    assert response.json()["error_description"] == "the state parameter may appear only once"
    assert await harness.db.count("tfmcp_pending") == 0

    # Within the bounds, the request goes through as before.
    ok = await http.get("/authorize", params=authorize_params(client.client_id, challenge, state="s" * 2048))
    assert ok.status_code == 302
    assert ok.headers["location"].startswith(f"{BASE}/consent?txn=")
    assert await harness.db.count("tfmcp_pending") == 1


# --- /authorize: rates and pending bounds -----------------------------------------------


async def test_authorize_is_rate_limited_per_address(harness: Harness, http: httpx2.AsyncClient) -> None:
    client = await register(http)
    _, challenge = new_pkce()
    params = authorize_params(client.client_id, challenge)
    statuses = [(await http.get("/authorize", params=params)).status_code for _ in range(31)]
    assert statuses[:30] == [302] * 30
    assert statuses[30] == 429
    refused = await http.get("/authorize", params=params)
    assert refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    assert await harness.db.count("tfmcp_pending") == 30

    # Another address is not affected.
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=harness.app, client=("192.0.2.7", 4000)), base_url=BASE
    ) as elsewhere:
        assert (await elsewhere.get("/authorize", params=params)).status_code == 302


async def test_pending_sign_ins_are_bounded_per_address_and_in_total(
    tmp_path: Path, database: Database
) -> None:
    settings = make_settings(
        tmp_path, mcp_database_url=database.url, mcp_pending_per_address=3, mcp_pending_max=5
    )
    async with hosted_harness(settings) as harness, harness.http() as http:
        client = await register(http)
        _, challenge = new_pkce()
        params = authorize_params(client.client_id, challenge)
        statuses = [(await http.get("/authorize", params=params)).status_code for _ in range(4)]
        assert statuses == [302, 302, 302, 429]
        assert await harness.db.count("tfmcp_pending") == 3

        def browser(address: str) -> httpx2.AsyncClient:
            transport = httpx2.ASGITransport(app=harness.app, client=(address, 4000))
            return httpx2.AsyncClient(transport=transport, base_url=BASE)

        async with browser("192.0.2.1") as second, browser("192.0.2.2") as third:
            assert (await second.get("/authorize", params=params)).status_code == 302
            assert (await second.get("/authorize", params=params)).status_code == 302
            # Five sign-ins are waiting: the sixth is refused whoever asks.
            full = await third.get("/authorize", params=params)
        assert full.status_code == 503
        assert full.json()["error"] == "temporarily_unavailable"
        assert "retry-after" in full.headers
        assert await harness.db.count("tfmcp_pending") == 5


# --- /token: RFC 8707 resource ----------------------------------------------------------


async def test_code_exchange_for_another_resource_is_refused(http: httpx2.AsyncClient) -> None:
    issued = await obtain_code(http)
    refused = await exchange(http, issued, resource=OTHER_RESOURCE)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_target",
        "error_description": f"this server only issues tokens for {RESOURCE}",
    }
    assert refused.headers["cache-control"] == "no-store"
    # The refusal did not spend the code: the right resource (any spelling of it) still works.
    accepted = await exchange(http, issued, resource=RESOURCE + "/")
    assert accepted.status_code == 200, accepted.text


async def test_refresh_for_another_resource_is_refused(http: httpx2.AsyncClient) -> None:
    issued = await obtain_code(http)
    tokens = (await exchange(http, issued)).json()

    async def refresh_with(token: str, *resources: str) -> httpx2.Response:
        data: dict[str, Any] = {
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": issued.client.client_id,
        }
        if resources:
            data["resource"] = list(resources)
        return await http.post("/token", data=data)

    for resources in ((OTHER_RESOURCE,), (RESOURCE, OTHER_RESOURCE), ("",)):
        refused = await refresh_with(tokens["refresh_token"], *resources)
        assert refused.status_code == 400, resources
        assert refused.json()["error"] == "invalid_target"
    same = await refresh_with(tokens["refresh_token"], RESOURCE)
    assert same.status_code == 200, same.text
    # Without the parameter (it is optional at the token endpoint) a refresh still works.
    again = await refresh_with(same.json()["refresh_token"])
    assert again.status_code == 200, again.text
