"""Client ID metadata documents: a client whose ``client_id`` is an https URL.

The MCP authorization spec lets a client skip registration by using the URL of a JSON
document that describes it as its ``client_id``. Fetching a URL chosen by whoever calls
``/authorize`` is a server-side request forgery risk, so the fetch is fenced in:

- https only, no user info or fragment, a path other than ``/``;
- the host is resolved once, and every resolved address must be public (no private,
  loopback, link-local, shared, reserved or multicast address) — loopback only with the
  test-only ``mcp_cimd_allow_loopback`` setting; the request then goes to the checked
  address itself (TLS name check and ``Host`` still use the name), so a second DNS
  answer cannot swap in an internal address;
- no redirects, a 5-second deadline, and at most 64 KiB read;
- the result (good or bad) is cached, so a client id cannot be used to make us fetch
  in a loop.

The document must name itself (``client_id`` equal to the URL), list acceptable redirect
URIs, and describe a public client (no secret, ``token_endpoint_auth_method`` "none").
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError

from .redirects import redirect_uri_problem

__all__ = ["ClientMetadataDocuments", "MetadataDocumentError", "is_metadata_document_url"]

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 64 * 1024
FETCH_TIMEOUT = 5.0
CACHE_TTL = 300.0
FAILURE_CACHE_TTL = 30.0
MAX_CACHE_ENTRIES = 1024
MAX_URL_LENGTH = 2048

_ALLOWED_GRANTS = {"authorization_code", "refresh_token"}
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class MetadataDocumentError(Exception):
    """The document could not be fetched, or does not describe an acceptable client."""


def is_metadata_document_url(client_id: str) -> bool:
    """Whether ``client_id`` is to be treated as a metadata document URL."""
    return client_id.startswith("https://")


def _check_url(url: str) -> tuple[str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise MetadataDocumentError("client id URL is too long")
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as exc:
        raise MetadataDocumentError("client id is not a valid URL") from exc
    if parts.scheme != "https" or not parts.hostname:
        raise MetadataDocumentError("client id URL must be https with a host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise MetadataDocumentError("client id URL must not contain user information or a fragment")
    if parts.path in ("", "/"):
        raise MetadataDocumentError("client id URL must have a path")
    return parts.hostname, port


def _address_allowed(address: _Address, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def _client_from_document(url: str, document: Any, scope: str) -> OAuthClientInformationFull:
    if not isinstance(document, dict):
        raise MetadataDocumentError("document is not a JSON object")
    if document.get("client_id") != url:
        raise MetadataDocumentError("document client_id does not equal its URL")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise MetadataDocumentError("a metadata document must not carry a client secret")
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise MetadataDocumentError("only public clients (token_endpoint_auth_method 'none') are supported")
    redirect_uris = document.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris:
        raise MetadataDocumentError("document lists no redirect_uris")
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri) if isinstance(uri, str) else "redirect URI is not a string"
        if problem:
            raise MetadataDocumentError(problem)
    grant_types = document.get("grant_types", sorted(_ALLOWED_GRANTS))
    if not isinstance(grant_types, list) or "authorization_code" not in grant_types:
        raise MetadataDocumentError("grant_types must include authorization_code")
    if not set(grant_types) <= _ALLOWED_GRANTS:
        raise MetadataDocumentError("grant_types may only be authorization_code and refresh_token")
    response_types = document.get("response_types", ["code"])
    if not isinstance(response_types, list) or "code" not in response_types:
        raise MetadataDocumentError("response_types must include code")
    try:
        return OAuthClientInformationFull.model_validate(
            {
                **document,
                "client_id": url,
                "client_secret": None,
                "token_endpoint_auth_method": "none",
                "grant_types": grant_types,
                "response_types": response_types,
                # The scope a document client may ask for is ours to decide, not the document's.
                "scope": scope,
            }
        )
    except ValidationError as exc:
        raise MetadataDocumentError("document fields are not valid client metadata") from exc


class ClientMetadataDocuments:
    """Fetches, validates and caches client ID metadata documents."""

    def __init__(self, http: httpx.AsyncClient, *, scope: str, allow_loopback: bool = False) -> None:
        self._http = http
        self._scope = scope
        self._allow_loopback = allow_loopback
        self._cache: OrderedDict[str, tuple[float, OAuthClientInformationFull | None]] = OrderedDict()

    async def get(self, url: str) -> OAuthClientInformationFull | None:
        """The client the document at ``url`` describes, or None if it is unacceptable."""
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            client: OAuthClientInformationFull | None = await self.fetch(url)
            ttl = CACHE_TTL
        except MetadataDocumentError as exc:
            logger.info("Refused client metadata document %s: %s", url, exc)
            client, ttl = None, FAILURE_CACHE_TTL
        self._cache[url] = (time.monotonic() + ttl, client)
        self._cache.move_to_end(url)
        while len(self._cache) > MAX_CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return client

    async def fetch(self, url: str) -> OAuthClientInformationFull:
        """Fetch and validate without the cache; raises ``MetadataDocumentError``."""
        host, port = _check_url(url)
        addresses = await self._resolve(host, port)
        try:
            with anyio.fail_after(FETCH_TIMEOUT):
                body = await self._download(url, host, addresses)
        except TimeoutError as exc:
            raise MetadataDocumentError("fetching the document timed out") from exc
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise MetadataDocumentError("document is not JSON") from exc
        return _client_from_document(url, document, self._scope)

    async def _resolve(self, host: str, port: int) -> list[_Address]:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise MetadataDocumentError("client id host does not resolve") from exc
        addresses: list[_Address] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if not _address_allowed(address, self._allow_loopback):
                raise MetadataDocumentError("client id host resolves to a non-public address")
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise MetadataDocumentError("client id host does not resolve")
        return addresses

    async def _download(self, url: str, host: str, addresses: list[_Address]) -> bytes:
        parts = urlsplit(url)
        port_suffix = f":{parts.port}" if parts.port else ""
        last_error: Exception | None = None
        for address in addresses:
            literal = f"[{address}]" if address.version == 6 else str(address)
            pinned = urlunsplit(parts._replace(netloc=f"{literal}{port_suffix}"))
            request = self._http.build_request(
                "GET",
                pinned,
                headers={
                    "Host": f"{host}{port_suffix}",
                    "Accept": "application/json",
                    # No pooled reuse: the connection was verified for this host name only.
                    "Connection": "close",
                },
                extensions={"sni_hostname": host},
                timeout=httpx.Timeout(FETCH_TIMEOUT),
            )
            try:
                response = await self._http.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as exc:
                last_error = exc
                continue
            except httpx.HTTPError as exc:
                raise MetadataDocumentError(f"fetching the document failed ({type(exc).__name__})") from exc
            try:
                return await self._read_limited(response)
            finally:
                await response.aclose()
        raise MetadataDocumentError(
            f"could not connect to the client id host ({type(last_error).__name__})"
        ) from last_error

    @staticmethod
    async def _read_limited(response: httpx.Response) -> bytes:
        if response.status_code != 200:
            raise MetadataDocumentError(f"document URL answered HTTP {response.status_code}")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
            raise MetadataDocumentError("document is larger than 64 KiB")
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise MetadataDocumentError("document is larger than 64 KiB")
        except httpx.HTTPError as exc:
            raise MetadataDocumentError(f"reading the document failed ({type(exc).__name__})") from exc
        return bytes(body)
