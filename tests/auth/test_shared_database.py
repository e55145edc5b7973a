"""Several replicas on one database: what one issues or revokes, the others honour.

A revocation takes effect at once on the replica that made it, and on the others within
``mcp_token_cache_seconds`` (how long a replica trusts a token check it made).

Each "replica" is a separately built app (its own provider, engine and key cache) on the
same database URL and secret, as behind a load balancer. The tests run on SQLite and,
where it is installed, on PostgreSQL, the backend meant for this deployment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from _mcp import CheckedClient
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextContent
from oauth_helpers import (
    RESOURCE,
    Database,
    Harness,
    KeyChecker,
    call_mcp,
    exchange,
    make_settings,
    obtain_code,
    refresh,
    running_harness,
    tokens_for,
)

from tinyfish_mcp.auth import build_auth

TABLES = ("tfmcp_clients", "tfmcp_pending", "tfmcp_grants", "tfmcp_codes", "tfmcp_tokens")


TOKEN_CACHE_SECONDS = 0.5


@asynccontextmanager
async def replicas(tmp_path: Path, database: Database) -> AsyncIterator[tuple[Harness, Harness]]:
    settings = make_settings(
        tmp_path, mcp_database_url=database.url, mcp_token_cache_seconds=TOKEN_CACHE_SECONDS
    )
    async with running_harness(settings) as first, running_harness(settings) as second:
        yield first, second


async def _whoami(replica: Harness, access_token: str) -> str:
    headers = {"Authorization": f"Bearer {access_token}"}
    async with (
        httpx2.AsyncClient(transport=replica.transport(), headers=headers) as http,
        CheckedClient(streamable_http_client(RESOURCE, http_client=http)) as client,
    ):
        result = await client.call_tool("whoami", {})
    assert not result.is_error, result
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_replicas_starting_together_create_the_tables_once(tmp_path: Path, database: Database) -> None:
    settings = make_settings(tmp_path, mcp_database_url=database.url)
    setups = [await build_auth(settings, verify_key=KeyChecker()) for _ in range(3)]
    try:
        # A new database and three replicas booting at the same moment: none may fail.
        await asyncio.gather(*(setup.startup() for setup in setups))
    finally:
        for setup in setups:
            await setup.shutdown()
    for table in TABLES:
        assert await database.count(table) == 0


async def test_token_issued_by_one_replica_works_on_the_other_until_revoked(
    tmp_path: Path, database: Database
) -> None:
    async with replicas(tmp_path, database) as (first, second):
        async with first.http() as http:
            issued, tokens = await tokens_for(http)
        assert tokens.refresh_token
        # The other replica decrypts the user's key from the shared row.
        assert await _whoami(second, tokens.access_token) == "key ends with 1234"

        async with first.http() as on_first, second.http() as on_second:
            revoked = await on_first.post(
                "/revoke", data={"token": tokens.access_token, "client_id": issued.client.client_id}
            )
            assert revoked.status_code == 200
            # Refused at once where it was revoked...
            assert (await call_mcp(on_first, tokens.access_token)).status_code == 401
            # ...and on the other replica, which had just checked (and cached) the token, once its
            # cached check is older than the stated bound.
            await asyncio.sleep(TOKEN_CACHE_SECONDS + 0.05)
            assert (await call_mcp(on_second, tokens.access_token)).status_code == 401
            refused = await refresh(on_second, issued.client.client_id, tokens.refresh_token)
            assert refused.status_code == 400
            assert refused.json()["error"] == "invalid_grant"


async def test_refresh_rotation_and_replay_across_replicas(tmp_path: Path, database: Database) -> None:
    async with (
        replicas(tmp_path, database) as (first, second),
        first.http() as on_first,
        second.http() as on_second,
    ):
        issued, tokens = await tokens_for(on_first)
        assert tokens.refresh_token
        rotated = await refresh(on_second, issued.client.client_id, tokens.refresh_token)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()
        assert (await call_mcp(on_first, new["access_token"])).status_code == 200

        # The retired refresh token replayed on the first replica revokes the whole family.
        replay = await refresh(on_first, issued.client.client_id, tokens.refresh_token)
        assert replay.json()["error"] == "invalid_grant"
        assert (await call_mcp(on_second, new["access_token"])).status_code == 401
        refused = await refresh(on_second, issued.client.client_id, new["refresh_token"])
        assert refused.status_code == 400


async def test_one_code_redeemed_on_two_replicas_at_once_gives_tokens_once(
    tmp_path: Path, database: Database
) -> None:
    async with (
        replicas(tmp_path, database) as (first, second),
        first.http() as on_first,
        second.http() as on_second,
    ):
        issued = await obtain_code(on_first)
        answers = await asyncio.gather(exchange(on_first, issued), exchange(on_second, issued))
        assert sorted(answer.status_code for answer in answers) == [200, 400]
        (won,) = (answer for answer in answers if answer.status_code == 200)
        (lost,) = (answer for answer in answers if answer.status_code == 400)
        assert lost.json()["error"] == "invalid_grant"
        # Whichever came second was a replay: the tokens of the first are revoked too.
        assert (await call_mcp(on_first, won.json()["access_token"])).status_code == 401


async def test_one_refresh_token_used_on_two_replicas_at_once_rotates_once(
    tmp_path: Path, database: Database
) -> None:
    async with (
        replicas(tmp_path, database) as (first, second),
        first.http() as on_first,
        second.http() as on_second,
    ):
        issued, tokens = await tokens_for(on_first)
        assert tokens.refresh_token
        client_id = issued.client.client_id
        answers = await asyncio.gather(
            refresh(on_first, client_id, tokens.refresh_token),
            refresh(on_second, client_id, tokens.refresh_token),
        )
        assert sorted(answer.status_code for answer in answers) == [200, 400]
        (won,) = (answer for answer in answers if answer.status_code == 200)
        assert (await call_mcp(on_second, won.json()["access_token"])).status_code == 401
        assert (await call_mcp(on_first, tokens.access_token)).status_code == 401


async def test_a_token_check_is_trusted_for_the_stated_bound_only(tmp_path: Path, database: Database) -> None:
    async with replicas(tmp_path, database) as (first, _), first.http() as http:
        _, tokens = await tokens_for(http)
        assert (await call_mcp(http, tokens.access_token)).status_code == 200
        # The token disappears from the store behind the replica's back (as a revocation made by
        # another replica would): its recent check still stands, then no longer.
        await database.execute("DELETE FROM tfmcp_tokens WHERE kind = 'access'")
        assert (await call_mcp(http, tokens.access_token)).status_code == 200
        await asyncio.sleep(TOKEN_CACHE_SECONDS + 0.05)
        assert (await call_mcp(http, tokens.access_token)).status_code == 401


async def test_a_burst_with_one_token_reads_the_store_once(tmp_path: Path, database: Database) -> None:
    """Requests that arrive together share one token check: no read per connection when the
    cached check expires under load."""
    from sqlalchemy import event

    async with replicas(tmp_path, database) as (first, second):
        async with first.http() as http:
            _, tokens = await tokens_for(http)
        reads: list[str] = []

        def count(conn: object, cursor: object, statement: str, *args: object) -> None:
            if "tfmcp_tokens" in statement and statement.lstrip().upper().startswith("SELECT"):
                reads.append(statement)

        engine = second.setup.provider.store.engine.sync_engine  # type: ignore[attr-defined]
        event.listen(engine, "before_cursor_execute", count)
        try:
            async with second.http() as on_second:
                burst = await asyncio.gather(*(call_mcp(on_second, tokens.access_token) for _ in range(20)))
                assert [r.status_code for r in burst] == [200] * 20
                assert len(reads) == 1
                # Once the cached check is older than the bound, the next burst reads once more.
                await asyncio.sleep(TOKEN_CACHE_SECONDS + 0.05)
                burst = await asyncio.gather(*(call_mcp(on_second, tokens.access_token) for _ in range(20)))
                assert [r.status_code for r in burst] == [200] * 20
                assert len(reads) == 2
        finally:
            event.remove(engine, "before_cursor_execute", count)
