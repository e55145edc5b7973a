"""The storage side of the built-in authorization server (the SDK's provider seam).

The ``mcp`` SDK owns the HTTP endpoints (``/authorize``, ``/token``, ``/register``,
``/revoke``, metadata) and their request validation: PKCE S256 verification, exact
redirect-URI comparison, code expiry, client authentication. This class supplies
what the SDK leaves to the provider: client lookup (registered clients and client ID
metadata documents), the policy on ``authorize`` (``resource`` required and equal to
our resource URL), the consent hand-off, and issuing, rotating and revoking tokens.

Token families: everything issued from one consent shares the grant id (also the
token's ``subject``). A replayed authorization code, or a replayed rotated refresh
token, revokes the whole family — the RFC 9700 answer to a leaked credential.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl, AnyUrl, ValidationError

from ..observe import oauth_event
from .cimd import ClientMetadataDocuments, is_metadata_document_url
from .client_secrets import open_client_secret, seal_client_secret
from .crypto import DecryptionError, KeyCipher, new_secret
from .redirects import redirect_uri_problem
from .store import AuthStore, CodeRecord, PendingRecord, TokenRecord
from .token_checks import TokenChecks
from .usage import touch_grant

__all__ = [
    "OAUTH_SCOPE",
    "PENDING_TTL",
    "ConsentExpiredError",
    "TinyFishOAuthProvider",
    "same_resource",
]

logger = logging.getLogger(__name__)

_KEY_CACHE_SECONDS = 60.0
_KEY_CACHE_SIZE = 10_000

OAUTH_SCOPE = "tinyfish"
"""The one scope: use the TinyFish tools with the signed-in user's key."""

PENDING_TTL = 600.0
"""Seconds a user has to finish the consent page."""

# An S256 challenge is the unpadded base64url of a SHA-256 digest: exactly 43 characters.
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_ALLOWED_GRANTS = {"authorization_code", "refresh_token"}
_PUBLIC_OR_SECRET = {"none", "client_secret_post", "client_secret_basic"}


class ConsentExpiredError(Exception):
    """The consent transaction is gone (expired, or already completed in another tab)."""


def same_resource(candidate: str | None, resource_url: str) -> bool:
    """Whether ``candidate`` names ``resource_url`` (compared as URLs, a trailing slash aside)."""
    if not candidate:
        return False
    try:
        normalized = str(AnyHttpUrl(candidate))
    except ValidationError:
        return False
    return normalized.removesuffix("/") == str(AnyHttpUrl(resource_url)).removesuffix("/")


class TinyFishOAuthProvider(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    """Authorization server provider whose users sign in with their TinyFish API key."""

    def __init__(
        self,
        *,
        store: AuthStore,
        cipher: KeyCipher,
        documents: ClientMetadataDocuments,
        issuer: str,
        resource_url: str,
        consent_url: str,
        access_token_ttl: int,
        refresh_token_ttl: int,
        auth_code_ttl: int,
        token_cache_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self._documents = documents
        self.issuer = issuer
        self.resource_url = resource_url
        self._consent_url = consent_url
        self._access_ttl = access_token_ttl
        self._refresh_ttl = refresh_token_ttl
        self._code_ttl = auth_code_ttl
        # grant id -> (decrypted key, monotonic expiry): a database read and a decryption saved
        # per call. The token is checked before the key is used, so a revoked grant's key is
        # no longer reached once its token check (below) says so.
        self._keys: dict[str, tuple[str, float]] = {}
        # Access-token checks, shared and remembered ``token_cache_seconds`` (``token_checks.py``).
        self._token_checks = TokenChecks(self._check_access_token, token_cache_seconds)

    # --- clients -------------------------------------------------------------
    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if is_metadata_document_url(client_id):
            return await self._documents.get(client_id)
        if len(client_id) > 255:
            return None
        stored = await self.store.get_client(client_id)
        if stored is None or not stored.client_secret:
            return stored
        try:
            secret = open_client_secret(self.cipher, client_id, stored.client_secret)
        except DecryptionError:
            logger.error("A stored client secret did not decrypt (was TINYFISH_MCP_SECRET changed?)")
            return None
        return stored.model_copy(update={"client_secret": secret})

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        if not client_info.redirect_uris:
            raise RegistrationError("invalid_redirect_uri", "at least one redirect URI is required")
        for uri in client_info.redirect_uris:
            problem = redirect_uri_problem(str(uri))
            if problem:
                raise RegistrationError("invalid_redirect_uri", problem)
        if client_info.token_endpoint_auth_method not in _PUBLIC_OR_SECRET:
            raise RegistrationError(
                "invalid_client_metadata", "token_endpoint_auth_method must be none or client_secret_*"
            )
        if not set(client_info.grant_types) <= _ALLOWED_GRANTS:
            raise RegistrationError(
                "invalid_client_metadata", "grant_types may only be authorization_code and refresh_token"
            )
        stored = client_info
        if client_info.client_secret:
            sealed = seal_client_secret(self.cipher, client_info.client_id, client_info.client_secret)
            stored = client_info.model_copy(update={"client_secret": sealed})
        await self.store.save_client(stored)

    # --- authorization -------------------------------------------------------
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        # Refusals go back to the client as an RFC 6749 §4.1.2.1 error redirect that we build
        # ourselves, so that it carries ``iss`` (RFC 9207) like every other response of ours.
        if not params.resource:
            return self._error_redirect(
                params,
                "invalid_request",
                f"the resource parameter (RFC 8707) is required: {self.resource_url}",
            )
        if not same_resource(params.resource, self.resource_url):
            return self._error_redirect(
                params, "invalid_target", f"this server only issues tokens for {self.resource_url}"
            )
        if not _S256_CHALLENGE.fullmatch(params.code_challenge):
            return self._error_redirect(params, "invalid_request", "code_challenge must be an S256 challenge")
        # The grant is bound to our canonical resource URL, whatever spelling the client used.
        scoped = params.model_copy(
            update={"scopes": params.scopes or [OAUTH_SCOPE], "resource": self.resource_url}
        )
        txn = new_secret()
        await self.store.save_pending(txn, client.client_id, scoped, PENDING_TTL)
        return construct_redirect_uri(self._consent_url, txn=txn)

    def _error_redirect(self, params: AuthorizationParams, error: str, description: str) -> str:
        return construct_redirect_uri(
            str(params.redirect_uri),
            error=error,
            error_description=description,
            state=params.state,
            iss=self.issuer,
        )

    async def pending(self, txn: str) -> PendingRecord | None:
        """The authorization request behind a consent page, if it is still open."""
        return await self.store.get_pending(txn)

    async def approve(self, txn: str, record: PendingRecord, api_key: str) -> str:
        """Store the user's (already verified) key and redirect back to the client with a code."""
        if not await self.store.take_pending(txn):
            raise ConsentExpiredError
        params = record.params
        grant_id = uuid.uuid4().hex
        code = new_secret()
        code_record = CodeRecord(
            grant_id=grant_id,
            client_id=record.client_id,
            scopes=params.scopes or [OAUTH_SCOPE],
            code_challenge=params.code_challenge,
            redirect_uri=str(params.redirect_uri),
            redirect_uri_explicit=params.redirect_uri_provided_explicitly,
            resource=self.resource_url,
            expires_at=time.time() + self._code_ttl,
            used=False,
        )
        ciphertext = self.cipher.encrypt(api_key, bound_to=grant_id)
        await self.store.create_grant_with_code(grant_id, record.client_id, ciphertext, code, code_record)
        return construct_redirect_uri(
            str(params.redirect_uri), code=code, state=params.state, iss=self.issuer
        )

    async def deny(self, txn: str, record: PendingRecord) -> str:
        """Close the transaction and tell the client the user said no."""
        if not await self.store.take_pending(txn):
            raise ConsentExpiredError
        return self._error_redirect(record.params, "access_denied", "the user declined the request")

    # --- authorization codes -------------------------------------------------
    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        record = await self.store.get_code(authorization_code)
        if record is None or record.client_id != client.client_id:
            return None
        if record.used:
            logger.warning("An authorization code was presented twice; revoking the tokens issued from it")
            oauth_event("reuse_detected", "authorization_code")
            await self._revoke_grant(record.grant_id)
            return None
        return AuthorizationCode(
            code=authorization_code,
            scopes=record.scopes,
            expires_at=record.expires_at,
            client_id=record.client_id,
            code_challenge=record.code_challenge,
            redirect_uri=AnyUrl(record.redirect_uri),
            redirect_uri_provided_explicitly=record.redirect_uri_explicit,
            resource=record.resource,
            subject=record.grant_id,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        grant_id = authorization_code.subject or ""
        token, issued = self._mint(
            client, grant_id, authorization_code.scopes, authorization_code.resource or self.resource_url
        )
        if not await self.store.redeem_code(authorization_code.code, issued):
            # Lost a race with another redemption of the same code: that is a replay too.
            await self._revoke_grant(grant_id)
            raise TokenError("invalid_grant", "authorization code was already used")
        oauth_event("sign_in")
        return token

    # --- refresh tokens ------------------------------------------------------
    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        record = await self.store.get_token(refresh_token)
        if record is None or record.kind != "refresh" or record.client_id != client.client_id:
            return None
        if record.rotated:
            logger.warning("A rotated refresh token was presented again; revoking its token family")
            oauth_event("reuse_detected", "refresh_token")
            await self._revoke_grant(record.grant_id)
            return None
        if record.expires_at <= time.time():
            return None
        return RefreshToken(
            token=refresh_token,
            client_id=record.client_id,
            scopes=record.scopes,
            expires_at=int(record.expires_at),
            resource=record.resource,
            subject=record.grant_id,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        grant_id = refresh_token.subject or ""
        token, issued = self._mint(client, grant_id, scopes, refresh_token.resource or self.resource_url)
        if not await self.store.rotate_refresh_token(refresh_token.token, issued):
            await self._revoke_grant(grant_id)
            raise TokenError("invalid_grant", "refresh token was already used")
        oauth_event("refresh")
        return token

    # --- access tokens and revocation ---------------------------------------
    async def load_access_token(self, token: str) -> AccessToken | None:
        return await self._token_checks.get(token)

    async def _check_access_token(self, token: str) -> AccessToken | None:
        record = await self.store.get_token(token)
        if record is None or record.kind != "access" or record.expires_at <= time.time():
            return None
        return AccessToken(
            token=token,
            client_id=record.client_id,
            scopes=record.scopes,
            expires_at=int(record.expires_at),
            resource=record.resource,
            subject=record.grant_id,
            claims={"iss": self.issuer},
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        # RFC 7009 §2.1: revoking either token of a pair revokes the grant behind both.
        if token.subject:
            await self._revoke_grant(token.subject)

    # --- the upstream key ----------------------------------------------------
    async def api_key_for(self, grant_id: str) -> str | None:
        """The TinyFish key stored for a grant, decrypted for the upstream call (cached briefly)."""
        cached = self._keys.get(grant_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        ciphertext = await self.store.grant_ciphertext(grant_id)
        if ciphertext is None:
            self._keys.pop(grant_id, None)
            return None
        try:
            key = self.cipher.decrypt(ciphertext, bound_to=grant_id)
        except DecryptionError:
            logger.error("A stored API key did not decrypt (was TINYFISH_MCP_SECRET changed?)")
            return None
        if len(self._keys) >= _KEY_CACHE_SIZE:
            self._keys.clear()  # rare; simpler than LRU bookkeeping on every call
        self._keys[grant_id] = (key, time.monotonic() + _KEY_CACHE_SECONDS)
        await touch_grant(self.store.engine, grant_id)  # "last used", for operators
        return key

    async def _revoke_grant(self, grant_id: str) -> None:
        await self.store.revoke_grant(grant_id)
        # After the commit: a check read before it is neither kept nor cached, one read after sees it.
        self._keys.pop(grant_id, None)
        self._token_checks.forget(grant_id)

    def _mint(
        self, client: OAuthClientInformationFull, grant_id: str, scopes: list[str], resource: str
    ) -> tuple[OAuthToken, list[tuple[str, TokenRecord]]]:
        now = time.time()
        access = new_secret()
        issued = [
            (
                access,
                TokenRecord(
                    "access", grant_id, client.client_id, scopes, resource, now + self._access_ttl, False
                ),
            )
        ]
        refresh: str | None = None
        if "refresh_token" in client.grant_types:
            refresh = new_secret()
            issued.append(
                (
                    refresh,
                    TokenRecord(
                        "refresh",
                        grant_id,
                        client.client_id,
                        scopes,
                        resource,
                        now + self._refresh_ttl,
                        False,
                    ),
                )
            )
        token = OAuthToken(
            access_token=access,
            expires_in=self._access_ttl,
            scope=" ".join(scopes),
            refresh_token=refresh,
        )
        return token, issued
