"""``tinyfish-mcp admin``: listing and revoking grants, and rotating TINYFISH_MCP_SECRET.

The commands run as real processes (``python -m tinyfish_mcp admin ...``) against the
database of running harnesses, as an operator runs them against a live deployment.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from _servers import clean_env
from oauth_helpers import (
    GOOD_KEY,
    OTHER_GOOD_KEY,
    SECRET,
    Database,
    Harness,
    exchange,
    hosted_harness,
    make_settings,
    obtain_code,
    tokens_for,
)

from tinyfish_mcp.admin import user_hash

NEW_SECRET = "rotated-secret-" + "z" * 40


async def admin(database: Database, *args: str, secret: str = SECRET, previous: str | None = None) -> Any:
    env = clean_env()
    env.update({"TINYFISH_MCP_DATABASE_URL": database.url, "TINYFISH_MCP_SECRET": secret})
    if previous is not None:
        env["TINYFISH_MCP_SECRET_PREVIOUS"] = previous
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tinyfish_mcp", "admin", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


async def whoami(harness: Harness, token: str) -> str | int:
    """A tool call that needs the user's key: its text, or the HTTP status when refused."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
    }
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
    async with harness.http() as http:
        response = await http.post("/mcp", json=call, headers=headers)
    if response.status_code != 200:
        return response.status_code
    return str(response.text)


async def test_grants_are_listed_without_secrets_and_revoked_by_user_or_client(
    tmp_path: Path, database: Database
) -> None:
    settings = make_settings(tmp_path, mcp_database_url=database.url)
    async with hosted_harness(settings) as harness, harness.http() as http:
        first, first_tokens = await tokens_for(http, api_key=GOOD_KEY)
        second, second_tokens = await tokens_for(http, api_key=OTHER_GOOD_KEY)
        assert "key ends with 1234" in str(await whoami(harness, first_tokens.access_token))

        code, out, err = await admin(database, "grants", "--json")
        assert code == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        assert [(r["user"], r["client_id"]) for r in rows] == [
            (user_hash(GOOD_KEY), first.client.client_id),
            (user_hash(OTHER_GOOD_KEY), second.client.client_id),
        ]
        assert rows[0]["last_used_at"] != "-" and rows[1]["last_used_at"] == "-"
        assert rows[0]["client_name"] == "Manual Test Client"
        code, table, _ = await admin(database, "grants")
        assert code == 0 and user_hash(GOOD_KEY) in table
        secrets = (GOOD_KEY, OTHER_GOOD_KEY, first_tokens.access_token, first_tokens.refresh_token or "x")
        assert not [secret for secret in secrets if secret in out + table]

        code, out, _ = await admin(database, "revoke", "--user", user_hash(GOOD_KEY))
        assert code == 0 and "revoked 1 grant(s)" in out
        assert await whoami(harness, first_tokens.access_token) == 401
        assert "key ends with 5678" in str(await whoami(harness, second_tokens.access_token))

        code, out, _ = await admin(database, "revoke", "--client", second.client.client_id)
        assert code == 0 and "revoked 1 grant(s)" in out
        assert await whoami(harness, second_tokens.access_token) == 401
        code, _, err = await admin(database, "revoke", "--client", second.client.client_id)
        assert code == 1 and "nothing matched" in err


async def test_users_signed_in_before_a_rotation_keep_working_on_both_replicas(
    tmp_path: Path, database: Database
) -> None:
    def replica(secret: str, previous: str | None = None) -> Any:
        settings = make_settings(
            tmp_path, mcp_database_url=database.url, mcp_secret=secret, mcp_secret_previous=previous
        )
        return hosted_harness(settings)

    # Before: both replicas on the old secret; a user signs in.
    async with replica(SECRET) as a, a.http() as http:
        _, before = await tokens_for(http, api_key=GOOD_KEY)

    # The roll-out, half done: one replica has the new secret (the old one still decrypts),
    # the other the old one (accepting the new). A second user, with a confidential client,
    # signs in on the new one.
    async with replica(NEW_SECRET, SECRET) as a, replica(SECRET, NEW_SECRET) as b, a.http() as http:
        issued = await obtain_code(
            http, api_key=OTHER_GOOD_KEY, token_endpoint_auth_method="client_secret_post"
        )
        during = (await exchange(http, issued)).json()
        for harness in (a, b):
            assert "key ends with 1234" in str(await whoami(harness, before.access_token))
            assert "key ends with 5678" in str(await whoami(harness, during["access_token"]))

    # Every stored key and client secret sealed again under the new secret.
    code, out, err = await admin(database, "rotate-secret", secret=NEW_SECRET, previous=SECRET)
    assert code == 0, err
    assert "re-encrypted 2 API key(s) and 1 client secret(s)" in out

    # After: both replicas on the new secret alone; everyone keeps working, refresh included.
    async with replica(NEW_SECRET) as a, replica(NEW_SECRET) as b:
        for harness in (a, b):
            assert "key ends with 1234" in str(await whoami(harness, before.access_token))
            assert "key ends with 5678" in str(await whoami(harness, during["access_token"]))
        async with b.http() as http:
            refreshed = await http.post(
                "/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": during["refresh_token"],
                    "client_id": issued.client.client_id,
                    "client_secret": issued.client.client_secret,
                },
            )
        assert refreshed.status_code == 200, refreshed.text
    # The old secret alone no longer opens anything: the rows really were re-encrypted.
    async with replica(SECRET) as old:
        assert "key ends with" not in str(await whoami(old, before.access_token))


async def test_rotation_needs_the_previous_secret(tmp_path: Path, database: Database) -> None:
    code, _, err = await admin(database, "rotate-secret", secret=NEW_SECRET)
    assert code == 2 and "TINYFISH_MCP_SECRET_PREVIOUS" in err
