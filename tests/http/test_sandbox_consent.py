"""In the sandbox the consent page names the key the emulator accepts, and that key signs in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
from hosted import serve_oauth
from oauth_helpers import authorize_params, new_pkce, register, submit_consent


async def _consent_page(http: httpx2.AsyncClient, url: str) -> tuple[str, str]:
    client = await register(http)
    _, challenge = new_pkce()
    response = await http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, resource=f"{url}/mcp")
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    page = await http.get(location)
    assert page.status_code == 200
    return location, page.text


async def test_sandbox_consent_page_shows_the_sandbox_key(emulator: Any, tmp_path: Path) -> None:
    with serve_oauth(
        emulator.base_url,
        tmp_path,
        api_key=emulator.api_key,
        sandbox=True,
    ) as served:
        async with httpx2.AsyncClient(base_url=served.url, follow_redirects=False) as http:
            location, page = await _consent_page(http, served.url)
            shown = re.search(r'<code class="host">([^<]+)</code>', page)
            assert "Sandbox:" in page and shown is not None and shown.group(1) == emulator.api_key
            done = await submit_consent(http, location, shown.group(1))
            assert done.status_code == 303 and "code=" in done.headers["location"]


async def test_a_real_deployment_shows_no_key(emulator: Any, tmp_path: Path) -> None:
    with serve_oauth(
        emulator.base_url,
        tmp_path,
        api_key=emulator.api_key,
    ) as served:
        async with httpx2.AsyncClient(base_url=served.url, follow_redirects=False) as http:
            _, page = await _consent_page(http, served.url)
    assert "Sandbox:" not in page and emulator.api_key not in page
