"""Discovery documents the SDK does not publish the way we need.

- RFC 8414 authorization server metadata: the SDK's ``build_metadata`` has no option for
  ``client_id_metadata_document_supported`` or ``authorization_response_iss_parameter_supported``,
  and it does not list ``none`` among the token endpoint auth methods although public
  clients register with it. We start from the SDK's document and add those, and serve it
  from a route that must come before the SDK's own (see ``AuthSetup.routes``).
- RFC 9728 protected resource metadata at the root path: the SDK serves only the
  path-suffixed form (``/.well-known/oauth-protected-resource/mcp``); clients that skip
  the ``WWW-Authenticate`` hint also try the root, so we serve the same document there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.routes import build_metadata, build_resource_metadata_url, cors_middleware
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "AS_METADATA_PATH",
    "PRM_ROOT_PATH",
    "authorization_server_metadata",
    "metadata_routes",
    "protected_resource_metadata",
]

AS_METADATA_PATH = "/.well-known/oauth-authorization-server"
PRM_ROOT_PATH = "/.well-known/oauth-protected-resource"
_AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"]


def authorization_server_metadata(settings: AuthSettings) -> OAuthMetadata:
    """The SDK's RFC 8414 document plus CIMD support, RFC 9207 ``iss`` and public clients."""
    metadata = build_metadata(
        settings.issuer_url,
        settings.service_documentation_url,
        settings.client_registration_options or ClientRegistrationOptions(),
        settings.revocation_options or RevocationOptions(),
    )
    updates: dict[str, object] = {
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
    }
    if metadata.revocation_endpoint is not None:
        updates["revocation_endpoint_auth_methods_supported"] = _AUTH_METHODS
    return metadata.model_copy(update=updates)


def protected_resource_metadata(settings: AuthSettings) -> ProtectedResourceMetadata:
    """The same RFC 9728 document the SDK serves under the resource's path."""
    assert settings.resource_server_url is not None  # always set by build_auth
    return ProtectedResourceMetadata(
        resource=settings.resource_server_url,
        authorization_servers=[settings.issuer_url],
        scopes_supported=settings.required_scopes,
    )


def _document(path: str, handle: Callable[[Request], Awaitable[Response]]) -> Route:
    """A metadata document's route: GET, and OPTIONS for browser clients' CORS preflight."""
    return Route(path, endpoint=cors_middleware(handle, ["GET", "OPTIONS"]), methods=["GET", "OPTIONS"])


def metadata_routes(settings: AuthSettings, *, authorization_server: bool) -> list[Route]:
    """Routes for the root PRM document and, when we are the AS, the AS metadata override."""
    routes: list[Route] = []
    if authorization_server:
        as_handler = MetadataHandler(authorization_server_metadata(settings))
        routes.append(_document(AS_METADATA_PATH, as_handler.handle))
    assert settings.resource_server_url is not None
    suffixed = str(build_resource_metadata_url(settings.resource_server_url))
    if not suffixed.endswith(PRM_ROOT_PATH):  # the resource has a path, so the root is free
        prm_handler = ProtectedResourceMetadataHandler(protected_resource_metadata(settings))
        routes.append(_document(PRM_ROOT_PATH, prm_handler.handle))
    return routes
