"""``tinyfish-mcp admin``: operator commands on the OAuth store of a hosted deployment.

    tinyfish-mcp admin grants [--json]      who is signed in: user, client, created, last used
    tinyfish-mcp admin revoke --user HASH | --client CLIENT_ID | --grant GRANT_ID
    tinyfish-mcp admin rotate-secret        re-encrypt every stored key under TINYFISH_MCP_SECRET
    tinyfish-mcp admin unowned [--json]     jwt mode: runs, research runs, datasets and monitors of
                                            the deployment's key that no user owns (shown to no one)

They read the same settings as the server (``TINYFISH_MCP_DATABASE_URL``,
``TINYFISH_MCP_SECRET``, ``TINYFISH_MCP_SECRET_PREVIOUS``) and work on a live database:
every change is one short transaction, as the server's own are. No key, token or secret
is ever printed: a user is named by a short hash of their TinyFish key (the first 12 hex
digits of its SHA-256), which is enough to tell users apart and to revoke one.

Rotation (see the README): with ``TINYFISH_MCP_SECRET`` set to the new secret and
``TINYFISH_MCP_SECRET_PREVIOUS`` to the old one, ``rotate-secret`` opens every stored
API key and client secret with whichever secret sealed it and seals it again with the
new one. Rows that neither secret opens are counted and left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .settings import Settings
from .tracing import user_hash  # how operators name a user; the access log uses it too

__all__ = ["add_admin_parser", "run_admin", "user_hash"]


def add_admin_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser(
        "admin", help="operator commands on the OAuth store (grants, secret rotation)"
    )
    actions = admin.add_subparsers(
        dest="admin_command", metavar="{grants,revoke,rotate-secret,unowned}", required=True
    )
    grants = actions.add_parser("grants", help="list grants: user hash, client, created, last used")
    grants.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = actions.add_parser("revoke", help="revoke every grant of a user, of a client, or one grant")
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", metavar="HASH", help="a user hash from `admin grants`")
    target.add_argument("--client", metavar="CLIENT_ID", help="a client id")
    target.add_argument("--grant", metavar="GRANT_ID", help="one grant id")
    actions.add_parser(
        "rotate-secret",
        help="re-encrypt stored keys under TINYFISH_MCP_SECRET (the old one in TINYFISH_MCP_SECRET_PREVIOUS)",
    )
    unowned = actions.add_parser(
        "unowned",
        help="jwt mode: records of TINYFISH_API_KEY that no signed-in user owns (newest first)",
    )
    unowned.add_argument("--json", action="store_true", help="one JSON object per line")
    unowned.add_argument("--limit", type=int, default=500, help="records looked at per kind (default 500)")


def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Run one admin command; 0 on success, 1 when something could not be done, 2 on bad setup."""
    from .auth import AuthConfigurationError

    try:
        return asyncio.run(_run(args, settings))
    except AuthConfigurationError as exc:
        print(f"tinyfish-mcp admin: {exc}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from .auth.store import AuthStore

    store = AuthStore(settings.mcp_database_url)
    try:
        await store.upgrade_schema()
        if args.admin_command == "grants":
            return await _grants(store, settings, as_json=args.json)
        if args.admin_command == "unowned":
            return await _unowned(store, settings, as_json=args.json, limit=max(1, args.limit))
        if args.admin_command == "revoke":
            return await _revoke(store, settings, user=args.user, client=args.client, grant=args.grant)
        return await _rotate(store, settings)
    finally:
        await store.dispose()


def _cipher(settings: Settings) -> Any:
    from .auth import AuthConfigurationError, previous_secrets
    from .auth.crypto import KeyCipher, SecretTooWeakError

    if settings.mcp_secret is None:
        raise AuthConfigurationError("set TINYFISH_MCP_SECRET (the server's) to read the stored keys")
    try:
        return KeyCipher(settings.mcp_secret.get_secret_value(), previous_secrets(settings))
    except SecretTooWeakError as exc:
        raise AuthConfigurationError(str(exc)) from None


def _when(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


async def _grant_rows(store: Any, settings: Settings) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from .auth.crypto import DecryptionError
    from .auth.store import clients, grants
    from .auth.usage import grant_usage

    cipher = _cipher(settings)
    query = (
        select(grants, clients.c.info_json, grant_usage.c.last_used_at)
        .outerjoin(clients, clients.c.client_id == grants.c.client_id)
        .outerjoin(grant_usage, grant_usage.c.grant_id == grants.c.grant_id)
        .order_by(grants.c.created_at)
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    listed = []
    for row in rows:
        try:
            user = user_hash(cipher.decrypt(bytes(row.api_key_ciphertext), bound_to=row.grant_id))
        except DecryptionError:
            user = "?" * 12  # sealed under a secret this command was not given
        name = json.loads(row.info_json).get("client_name") if row.info_json else None
        listed.append(
            {
                "user": user,
                "client_id": row.client_id,
                "client_name": name,
                "grant_id": row.grant_id,
                "created_at": _when(row.created_at),
                "last_used_at": _when(row.last_used_at),
            }
        )
    return listed


async def _grants(store: Any, settings: Settings, *, as_json: bool) -> int:
    rows = await _grant_rows(store, settings)
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return 0
    header = ("USER", "CREATED", "LAST USED", "GRANT", "CLIENT")
    print("  ".join(f"{h:<20}" if i < 3 else f"{h:<32}" if i == 3 else h for i, h in enumerate(header)))
    for row in rows:
        client = row["client_id"] + (f" ({row['client_name']})" if row["client_name"] else "")
        print(
            f"{row['user']:<20}  {row['created_at']:<20}  {row['last_used_at']:<20}  "
            f"{row['grant_id']:<32}  {client}"
        )
    print(f"{len(rows)} grant(s)", file=sys.stderr)
    return 0


async def _revoke(
    store: Any, settings: Settings, *, user: str | None, client: str | None, grant: str | None
) -> int:
    rows = await _grant_rows(store, settings) if user else []
    if user:
        targets = [row["grant_id"] for row in rows if row["user"] == user.strip().lower()]
    elif client:
        from sqlalchemy import select

        from .auth.store import grants

        async with store.engine.connect() as conn:
            found = await conn.execute(select(grants.c.grant_id).where(grants.c.client_id == client))
            targets = [r.grant_id for r in found]
    else:
        targets = [grant] if grant and await store.grant_ciphertext(grant) is not None else []
    for grant_id in targets:
        await store.revoke_grant(grant_id)
    print(f"revoked {len(targets)} grant(s) and every token issued from them")
    if not targets:
        print("nothing matched: see `tinyfish-mcp admin grants`", file=sys.stderr)
        return 1
    return 0


async def _rotate(store: Any, settings: Settings) -> int:
    from .auth.store import grants

    cipher = _cipher(settings)
    if settings.mcp_secret_previous is None:
        print(
            "tinyfish-mcp admin: rotate-secret re-encrypts under TINYFISH_MCP_SECRET what the old secret "
            "sealed: set TINYFISH_MCP_SECRET_PREVIOUS to the old secret too",
            file=sys.stderr,
        )
        return 2

    def reseal_key(grant_id: str, ciphertext: Any) -> bytes:
        key: str = cipher.decrypt(bytes(ciphertext), bound_to=grant_id)
        sealed: bytes = cipher.encrypt(key, bound_to=grant_id)
        return sealed

    keys, unreadable = await _reseal_each(store, grants.c.grant_id, grants.c.api_key_ciphertext, reseal_key)
    secrets, unreadable_secrets = await _rotate_client_secrets(store, cipher)
    print(f"re-encrypted {keys} API key(s) and {secrets} client secret(s) under the new secret")
    if unreadable or unreadable_secrets:
        print(
            f"{unreadable} key(s) and {unreadable_secrets} client secret(s) opened with neither secret; "
            "left as they are",
            file=sys.stderr,
        )
        return 1
    return 0


async def _rotate_client_secrets(store: Any, cipher: Any) -> tuple[int, int]:
    from .auth.client_secrets import is_sealed_secret, open_client_secret, seal_client_secret
    from .auth.store import clients

    def reseal_secret(client_id: str, info_json: Any) -> str | None:
        info = json.loads(info_json)
        sealed = info.get("client_secret")
        if not isinstance(sealed, str) or not is_sealed_secret(sealed):
            return None  # a public client, or a secret from before sealing
        secret = open_client_secret(cipher, client_id, sealed)
        info["client_secret"] = seal_client_secret(cipher, client_id, secret)
        return json.dumps(info)

    return await _reseal_each(store, clients.c.client_id, clients.c.info_json, reseal_secret)


async def _reseal_each(
    store: Any, key: Any, column: Any, reseal: Callable[[str, Any], bytes | str | None]
) -> tuple[int, int]:
    """Rewrite ``column`` of every row as ``reseal(row's key, value)`` says (None: leave it).

    One short transaction per row, so a live server is never blocked for long; a row gone
    meanwhile is skipped. Returns (rewritten, unreadable: ``reseal`` raised DecryptionError).
    """
    from sqlalchemy import select, update

    from .auth.crypto import DecryptionError

    done = failed = 0
    async with store.engine.connect() as conn:
        ids = [row[0] for row in await conn.execute(select(key))]
    for ident in ids:
        async with store.engine.begin() as conn:
            value = (await conn.execute(select(column).where(key == ident))).scalar()
            if value is None:
                continue
            try:
                new = reseal(ident, value)
            except DecryptionError:
                failed += 1
                continue
            if new is not None:
                await conn.execute(update(column.table).where(key == ident).values({column.name: new}))
                done += 1
    return done, failed


async def _unowned(store: Any, settings: Settings, *, as_json: bool, limit: int) -> int:
    """Print what the deployment's key holds upstream that no user owns (jwt mode shows it to no one)."""
    from .auth import AuthConfigurationError
    from .auth.ownership_store import SqlOwnershipStore
    from .records import Kind
    from .upstream.client import TinyFishClient
    from .upstream.errors import UpstreamError
    from .upstream.models import ListRunsParams

    if settings.api_key is None:
        raise AuthConfigurationError("set TINYFISH_API_KEY (the deployment's key) to list its records")
    key = settings.api_key.get_secret_value()
    owners = SqlOwnershipStore(store.engine)
    found: list[tuple[str, str, str]] = []  # kind, id, created
    async with TinyFishClient(settings) as client:
        try:
            runs: list[tuple[str, str]] = []
            cursor: str | None = None
            while len(runs) < limit:
                page = await client.list_runs(key, ListRunsParams(limit=100, cursor=cursor))
                runs += [(run.run_id, run.created_at or "-") for run in page.data]
                cursor = page.pagination.next_cursor
                if not cursor or not page.data:
                    break
            research = await client.research.list(key, limit=100)
            datasets = await client.datasets.list(key, limit=100)
            monitors = await client.monitors.list(key)
        except UpstreamError as exc:
            print(f"tinyfish-mcp admin: TinyFish could not list the records: {exc}", file=sys.stderr)
            return 1
        listed: dict[Kind, list[tuple[str, str]]] = {
            "run": runs[:limit],
            "research": [(r.research_run_id, str(r.created_at or "-")) for r in research.data],
            "dataset": [(d.id, str(getattr(d, "created_at", None) or "-")) for d in datasets.data],
            "monitor": [(m.id, str(getattr(m, "created_at", None) or "-")) for m in monitors.monitors],
        }
    for kind, rows in listed.items():
        recorded = await owners.recorded(kind, [ident for ident, _ in rows])
        found += [(kind, ident, created) for ident, created in rows if ident not in recorded]
    for what, ident, created in found:
        if as_json:
            print(json.dumps({"kind": what, "id": ident, "created_at": created}))
        else:
            print(f"{what:<9} {ident:<40} {created}")
    if not as_json:
        print(f"{len(found)} unowned record(s): shown to no signed-in user in jwt mode.", file=sys.stderr)
    return 0
