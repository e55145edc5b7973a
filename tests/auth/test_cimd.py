"""Client ID metadata documents: the whole flow with the SDK client, and the SSRF fence."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import httpx2
import pytest
from _mcp import CheckedClient
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from mcp_types import TextContent
from oauth_helpers import (
    GOOD_KEY,
    REDIRECT,
    RESOURCE,
    Database,
    MemoryTokenStorage,
    ScriptedBrowser,
    authorize_params,
    make_settings,
    new_pkce,
    running_harness,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from tls_server import TLSServer, serve_tls

from tinyfish_mcp.auth.cimd import ClientMetadataDocuments, MetadataDocumentError


def _document_app(hits: Counter[str]) -> Starlette:
    def document(request: Request, **changes: object) -> dict[str, object]:
        doc: dict[str, object] = {
            "client_id": str(request.url),
            "client_name": "Document Client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        doc.update(changes)
        return doc

    async def serve(request: Request) -> Response:
        name = request.path_params["name"]
        hits[name] += 1
        if name == "client.json":
            return JSONResponse(document(request))
        if name == "mismatch.json":
            return JSONResponse(document(request, client_id="https://localhost/someone-else.json"))
        if name == "secret.json":
            return JSONResponse(document(request, client_secret="s3cret"))
        if name == "bad-redirect.json":
            return JSONResponse(document(request, redirect_uris=["http://evil.example.com/cb"]))
        if name == "big.json":
            return JSONResponse(document(request, padding="x" * 70_000))
        if name == "redirect.json":
            return RedirectResponse("/client.json", status_code=302)
        return Response(status_code=404)

    return Starlette(routes=[Route("/{name}", serve)])


@asynccontextmanager
async def documents_server(tmp_path: Path) -> AsyncIterator[tuple[TLSServer, Counter[str]]]:
    hits: Counter[str] = Counter()
    async with serve_tls(_document_app(hits), tmp_path) as server:
        yield server, hits


async def test_sdk_client_signs_in_with_a_metadata_document_instead_of_registering(
    tmp_path: Path, database: Database
) -> None:
    async with (
        documents_server(tmp_path) as (server, hits),
        httpx.AsyncClient(verify=server.ssl_context()) as fetcher,
    ):
        settings = make_settings(tmp_path, mcp_cimd_allow_loopback=True, mcp_database_url=database.url)
        async with running_harness(settings, http=fetcher) as harness:
            client_id = server.url("/client.json")
            browser = ScriptedBrowser(harness.http, GOOD_KEY)
            storage = MemoryTokenStorage()
            oauth = OAuthClientProvider(
                server_url=RESOURCE,
                client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT]),
                storage=storage,
                redirect_handler=browser.redirect_handler,
                callback_handler=browser.callback_handler,
                client_metadata_url=client_id,
            )
            paths: list[str] = []

            async def record(request: httpx2.Request) -> None:
                paths.append(request.url.path)

            async with (
                httpx2.AsyncClient(
                    transport=harness.transport(), auth=oauth, event_hooks={"request": [record]}
                ) as http,
                CheckedClient(streamable_http_client(RESOURCE, http_client=http)) as client,
            ):
                result = await client.call_tool("whoami", {})

            block = result.content[0]
            assert isinstance(block, TextContent) and block.text == "key ends with 1234"
            assert "/register" not in paths  # the document replaced registration
            assert storage.client_info is not None and storage.client_info.client_id == client_id
            assert storage.tokens is not None and storage.tokens.refresh_token
            # authorize, consent GET/POST and token all looked the client up; the cache fetched once.
            assert hits["client.json"] == 1

            # The consent page names the client from its document.
            async with harness.http() as http:
                _, challenge = new_pkce()
                response = await http.get("/authorize", params=authorize_params(client_id, challenge))
                assert response.status_code == 302
                page = await http.get(response.headers["location"])
                assert "Document Client" in page.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("mismatch.json", "does not equal its URL"),
        ("secret.json", "client secret"),
        ("bad-redirect.json", "must use https"),
        ("big.json", "larger than 64 KiB"),
        ("redirect.json", "HTTP 302"),
        ("missing.json", "HTTP 404"),
    ],
)
async def test_unacceptable_documents_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    async with (
        documents_server(tmp_path) as (server, _),
        httpx.AsyncClient(verify=server.ssl_context()) as http,
    ):
        documents = ClientMetadataDocuments(http, scope="tinyfish", allow_loopback=True)
        with pytest.raises(MetadataDocumentError, match=reason):
            await documents.fetch(server.url(f"/{name}"))
        assert await documents.get(server.url(f"/{name}")) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/client.json",
        "https://192.168.0.10/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/client.json",
        "https://127.0.0.1/client.json",
        "https://[::1]/client.json",
        "https://[fe80::1]/client.json",
        "https://[::ffff:10.0.0.1]/client.json",
        "https://localhost/client.json",
        "https://0.0.0.0/client.json",
    ],
)
async def test_private_and_loopback_addresses_are_refused(url: str) -> None:
    async with httpx.AsyncClient() as http:
        documents = ClientMetadataDocuments(http, scope="tinyfish")  # no test allowance
        with pytest.raises(MetadataDocumentError, match="non-public address"):
            await documents.fetch(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://example.com/", "must have a path"),
        ("https://user:pw@example.com/client.json", "user information"),
        ("https://example.com/client.json#frag", "fragment"),
    ],
)
async def test_malformed_document_urls_are_refused(url: str, reason: str) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(MetadataDocumentError, match=reason):
            await ClientMetadataDocuments(http, scope="tinyfish").fetch(url)


async def test_authorize_with_a_private_address_client_id_is_refused(tmp_path: Path) -> None:
    async with running_harness(make_settings(tmp_path)) as harness, harness.http() as http:
        _, challenge = new_pkce()
        for client_id in ("https://10.1.2.3/client.json", "https://localhost:8443/client.json"):
            response = await http.get("/authorize", params=authorize_params(client_id, challenge))
            assert response.status_code == 400
            assert "location" not in response.headers
            assert "not found" in response.json()["error_description"]
