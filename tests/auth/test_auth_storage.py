"""What lands in the database: the API key only encrypted, tokens and codes only as hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from oauth_helpers import (
    GOOD_KEY,
    SECRET,
    Database,
    KeyChecker,
    authorize_params,
    exchange,
    make_settings,
    new_pkce,
    obtain_code,
    register,
    running_harness,
    tokens_for,
)

from tinyfish_mcp.auth import AuthConfigurationError, build_auth
from tinyfish_mcp.auth.crypto import DecryptionError, KeyCipher, hash_secret


async def test_key_encrypted_and_tokens_codes_and_transactions_hashed(
    tmp_path: Path, database: Database
) -> None:
    settings = make_settings(tmp_path, mcp_database_url=database.url)
    async with running_harness(settings) as harness, harness.http() as http:
        issued, tokens = await tokens_for(http)
        assert tokens.refresh_token
        # A consent still open, so its transaction id is in the table too.
        client = await register(http)
        _, challenge = new_pkce()
        pending = await http.get("/authorize", params=authorize_params(client.client_id, challenge))
        txn = pending.headers["location"].split("txn=", 1)[1]

        dump = await harness.db.all_cells()
        for secret in (GOOD_KEY, tokens.access_token, tokens.refresh_token, issued.code, txn):
            assert secret.encode() not in dump
        for secret in (tokens.access_token, tokens.refresh_token, issued.code, txn):
            assert hash_secret(secret).encode() in dump

        ((grant_id, ciphertext),) = await harness.db.rows(
            "SELECT grant_id, api_key_ciphertext FROM tfmcp_grants"
        )
        cipher = KeyCipher(SECRET)
        assert cipher.decrypt(ciphertext, bound_to=grant_id) == GOOD_KEY
        # Bound to its grant: the same bytes do not open under another grant id ...
        with pytest.raises(DecryptionError):
            cipher.decrypt(ciphertext, bound_to="another-grant")
        # ... nor with another deployment secret.
        with pytest.raises(DecryptionError):
            KeyCipher("another-secret-" + "y" * 40).decrypt(ciphertext, bound_to=grant_id)


async def test_confidential_client_secret_is_encrypted_at_rest_and_still_checked(
    tmp_path: Path, database: Database
) -> None:
    settings = make_settings(tmp_path, mcp_database_url=database.url)
    async with running_harness(settings) as harness, harness.http() as http:
        issued = await obtain_code(http, token_endpoint_auth_method="client_secret_post")
        secret = issued.client.client_secret
        assert secret
        assert secret.encode() not in await harness.db.all_cells()

        refused = await exchange(http, issued, client_secret="wrong-secret")
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        accepted = await exchange(http, issued)
        assert accepted.status_code == 200, accepted.text


def test_cipher_detects_tampering() -> None:
    cipher = KeyCipher(SECRET)
    sealed = bytearray(cipher.encrypt("sk-value", bound_to="g1"))
    assert cipher.decrypt(bytes(sealed), bound_to="g1") == "sk-value"
    sealed[-1] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(sealed), bound_to="g1")
    # Two encryptions of the same key differ (fresh nonce each time).
    assert cipher.encrypt("sk-value", bound_to="g1") != cipher.encrypt("sk-value", bound_to="g1")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"mcp_secret": None}, "TINYFISH_MCP_SECRET"),
        ({"mcp_secret": "too-short"}, "at least 32 characters"),
        ({"mcp_public_url": "http://mcp.example.com"}, "must be https"),
        ({"mcp_auth": "none"}, "does not handle"),
    ],
)
async def test_oauth_mode_refuses_to_build_without_a_usable_configuration(
    tmp_path: Path, overrides: dict[str, object], expected: str
) -> None:
    with pytest.raises(AuthConfigurationError, match=expected):
        await build_auth(make_settings(tmp_path, **overrides), verify_key=KeyChecker())


async def test_public_https_url_is_the_issuer_and_resource(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mcp_public_url="https://mcp.example.com/")
    setup = await build_auth(settings, verify_key=KeyChecker())
    try:
        assert str(setup.auth_settings.issuer_url) == "https://mcp.example.com"
        assert str(setup.auth_settings.resource_server_url) == "https://mcp.example.com/mcp"
        assert setup.auth_settings.validate_token_resource is True
    finally:
        await setup.shutdown()
