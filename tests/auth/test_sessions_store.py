"""The hosted browser-session store on SQLite and PostgreSQL: per owner, shared, bounded, no keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from oauth_helpers import Database

from tinyfish_mcp.auth.sessions_store import SqlSessionStore, owner_resolver
from tinyfish_mcp.runtime.context import MissingKeyError
from tinyfish_mcp.runtime.sessions import SessionRecord, owner_of_key

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def record(n: int, owner: str, created: datetime = START) -> SessionRecord:
    return SessionRecord(
        session_id=f"br-{n}",
        owner=owner,
        cdp_url=f"wss://s{n}.example/cdp",
        base_url=f"https://s{n}.example",
        timeout_seconds=300,
        created_at=created,
        last_activity=created,
    )


async def test_two_stores_on_one_database_share_sessions_per_owner(database: Database) -> None:
    first, second = SqlSessionStore(database_url=database.url), SqlSessionStore(database_url=database.url)
    try:
        await asyncio.gather(first.create_table(), second.create_table())  # replicas starting together
        alice, bob = owner_of_key("sk-tinyfish-alice"), owner_of_key("sk-tinyfish-bob")
        await first.add(record(1, alice))
        await first.add(record(2, alice, START + timedelta(minutes=1)))
        await first.add(record(3, bob))

        assert [r.session_id for r in await second.owned(alice)] == ["br-2", "br-1"]
        assert [r.session_id for r in await second.owned(bob)] == ["br-3"]
        assert await second.get(bob, "br-1") is None  # another owner's session is not found
        assert await second.get(alice, "br-1") == record(1, alice)

        ended = record(1, alice).changed(ended_at=START + timedelta(minutes=2), pages_digest="d" * 32)
        await second.update(ended)
        assert await first.get(alice, "br-1") == ended
        await first.update(record(1, alice))  # a stale copy never revives an ended session
        assert (await first.get(alice, "br-1")).ended_at == ended.ended_at  # type: ignore[union-attr]

        rows = await database.rows("SELECT owner FROM tfmcp_browser_sessions")
        assert all("sk-tinyfish" not in str(row) for row in rows)
    finally:
        await first.dispose()
        await second.dispose()


async def test_each_owner_keeps_the_newest_fifty_and_ended_ones_for_a_day(database: Database) -> None:
    store = SqlSessionStore(database_url=database.url)
    try:
        await store.create_table()
        owner = owner_of_key("sk-tinyfish-many")
        await store.add(record(0, owner))
        await store.update(record(0, owner).changed(ended_at=START))
        for n in range(1, 60):
            await store.add(record(n, owner, START + timedelta(hours=25, seconds=n)))
        kept = await store.owned(owner)
        assert len(kept) == 50 and kept[0].session_id == "br-59" and kept[-1].session_id == "br-10"
    finally:
        await store.dispose()


async def test_owner_is_the_key_digest_or_the_jwt_issuer_and_subject() -> None:
    assert await owner_resolver("oauth")("sk-tinyfish-x") == owner_of_key("sk-tinyfish-x")
    assert await owner_resolver("none")("sk-tinyfish-x") == owner_of_key("sk-tinyfish-x")
    with pytest.raises(MissingKeyError):
        await owner_resolver("jwt")("sk-deployment")

    async def owner_of(issuer: str, subject: str) -> str:
        token = AccessToken(token="t", client_id="c", scopes=[], subject=subject, claims={"iss": issuer})
        reset = auth_context_var.set(AuthenticatedUser(token))
        try:
            return await owner_resolver("jwt")("sk-deployment")
        finally:
            auth_context_var.reset(reset)

    jwt_owner = await owner_of("https://idp.example.com", "user-42")
    assert jwt_owner.startswith("jwt:") and "user-42" not in jwt_owner
    assert jwt_owner != owner_of_key("sk-deployment")
    # The same subject at another issuer is another person.
    assert await owner_of("https://other-idp.example.com", "user-42") != jwt_owner
    assert await owner_of("https://idp.example.com", "user-42") == jwt_owner
