"""jwt mode: users who share the deployment's TinyFish key reach only their own work.

Two real replicas (``create_app`` under uvicorn) share a database and trust one identity
provider, whose JWKS a loopback server publishes. Alice starts one of everything; Bob, on the
other replica, gets "not found" from every tool and resource taking one of her ids (exactly
the answer for an id that never existed), sees none of it in any listing, and his retry of
her ``session_id`` starts his own run. The emulator's request log shows what reached TinyFish.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mcp import result_json, result_text
from _servers import loopback_site
from hosted import Served, replica_client, serve_app
from joserfc import jwt
from joserfc.jwk import RSAKey
from mcp import Client
from mcp.shared.exceptions import MCPError
from oauth_helpers import BASE, RESOURCE

ISSUER = "https://idp.example.com"
SCOPE = "tinyfish:use"
SHOP = "https://shop.example.com/"
GHOST = "id-that-never-existed-0000"


class _Issuer:
    """An identity provider: signs tokens, publishes its JWKS on a loopback HTTP server."""

    def __init__(self, key: RSAKey, origin: str) -> None:
        self.key = key
        self.url = f"{origin}/jwks.json"

    def token(self, subject: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": RESOURCE,
            "sub": subject,
            "scope": SCOPE,
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)


@pytest.fixture
def issuer() -> Iterator[_Issuer]:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    body = json.dumps({"keys": [key.as_dict(private=False)]}).encode()
    with loopback_site(lambda path, headers: ("application/json", body, {})) as origin:
        yield _Issuer(key, origin)


@pytest.fixture
def replicas(emulator: Any, issuer: _Issuer, tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    settings = {
        "mcp_auth": "jwt",
        "mcp_jwt_issuer": ISSUER,
        "mcp_jwt_jwks_url": issuer.url,
        "mcp_jwt_required_scope": SCOPE,
        "api_key": emulator.api_key,
        "mcp_database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "mcp_public_url": BASE,
        "mcp_toolsets": "all",
        "base_url": emulator.base_url,
    }
    with serve_app(**settings) as first, serve_app(**settings) as second:
        yield first, second


def _creates(emulator: Any) -> list[dict[str, Any]]:
    return [
        r for r in emulator.requests() if r["path"] in ("/v1/automation/run-sse", "/v1/automation/run-async")
    ]


async def _start_everything(alice: Client, session_id: str) -> dict[str, Any]:
    """One of everything Alice can start; returns the ids by kind."""
    run = result_json(
        await alice.call_tool(
            "run_web_automation", {"url": SHOP, "goal": "List the products", "session_id": session_id}
        )
    )
    started = result_json(
        await alice.call_tool("run_web_automation_async", {"url": SHOP, "goal": "Find prices"})
    )
    batch = result_json(
        await alice.call_tool(
            "batch_create", {"runs": [{"url": SHOP, "goal": "A"}, {"url": SHOP, "goal": "B"}]}
        )
    )
    research = result_json(await alice.call_tool("run_research", {"query": "tide tables"}))
    dataset = result_json(
        await alice.call_tool("create_dataset", {"prompt": "Coffee grinders", "target_rows": 2})
    )
    monitor = result_json(
        await alice.call_tool(
            "create_monitor",
            {"type": "fetch", "config": {"url": f"{SHOP}"}, "schedule_cron": "0 9 * * *", "name": "Shop"},
        )
    )
    setup = result_json(await alice.call_tool("start_profile_setup_session", {"profile_id": "prof_alice"}))
    browser = result_json(await alice.call_tool("create_browser_session", {}))
    return {
        "runs": [run["run_id"], started["run_id"], *batch["run_ids"]],
        "research": research["research_run_id"],
        "dataset": dataset["dataset_id"],
        "monitor": monitor["monitor"]["monitor_id"],
        "setup": setup["session_id"],
        "browser": browser["session_id"],
    }


def _probes(ids: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """Every tool taking one id: (tool, arguments with Alice's id, the argument holding it)."""
    run, research, dataset, monitor = ids["runs"][0], ids["research"], ids["dataset"], ids["monitor"]
    return [
        ("get_run", {"id": run}, "id"),
        ("get_steps", {"runId": run}, "runId"),
        ("cancel_run", {"id": run}, "id"),
        ("wait_for_run", {"run_id": run, "max_wait_seconds": 1}, "run_id"),
        ("get_research", {"research_run_id": research}, "research_run_id"),
        ("wait_for_research", {"research_run_id": research, "max_wait_seconds": 1}, "research_run_id"),
        ("cancel_research", {"research_run_id": research}, "research_run_id"),
        ("read_dataset", {"dataset_id": dataset}, "dataset_id"),
        ("populate_dataset", {"dataset_id": dataset, "max_wait_seconds": 1}, "dataset_id"),
        ("cancel_dataset_run", {"dataset_id": dataset}, "dataset_id"),
        ("delete_dataset", {"dataset_id": dataset}, "dataset_id"),
        ("get_monitor", {"monitor_id": monitor}, "monitor_id"),
        ("run_monitor", {"monitor_id": monitor}, "monitor_id"),
        ("pause_monitor", {"monitor_id": monitor}, "monitor_id"),
        ("resume_monitor", {"monitor_id": monitor}, "monitor_id"),
        ("cancel_monitor", {"monitor_id": monitor}, "monitor_id"),
        (
            "save_profile_setup_session",
            {"profile_id": "prof_alice", "session_id": ids["setup"]},
            "session_id",
        ),
        (
            "cancel_profile_setup_session",
            {"profile_id": "prof_alice", "session_id": ids["setup"]},
            "session_id",
        ),
        ("close_browser_session", {"session_id": ids["browser"]}, "session_id"),
    ]


async def test_users_sharing_a_key_reach_only_their_own_work(
    replicas: tuple[Served, Served], issuer: _Issuer, emulator: Any
) -> None:
    first, second = replicas
    session_id = str(uuid.uuid4())
    async with (
        replica_client(first, RESOURCE, issuer.token("alice")) as alice,
        replica_client(second, RESOURCE, issuer.token("bob")) as bob,
    ):
        ids = await _start_everything(alice, session_id)
        # The account-wide tools say what they show here.
        tools = {tool.name: tool for tool in (await alice.list_tools()).tools}
        assert "whole account's balance" in (tools["get_wallet"].description or "")
        assert "every user of this server" in (tools["list_vault_items"].description or "")
        requests_before = len(emulator.requests())

        # Every tool taking an id: Bob's answer for Alice's id is the answer for an id that never existed.
        for tool, args, field in _probes(ids):
            theirs = await bob.call_tool(tool, args)
            ghost = await bob.call_tool(tool, {**args, field: GHOST})
            assert theirs.is_error and ghost.is_error, (tool, result_text(theirs))
            said = result_text(theirs).lower()
            assert "not found" in said or "no browser session" in said, (tool, said)
            assert result_text(theirs).replace(args[field], "<id>") == result_text(ghost).replace(
                GHOST, "<id>"
            )
        # The batch tools: her ids are reported not found, and nothing of hers is cancelled upstream.
        status = result_json(await bob.call_tool("batch_status", {"run_ids": ids["runs"]}))
        assert status == {"runs": [], "not_found": ids["runs"]}
        cancelled = result_json(await bob.call_tool("batch_cancel", {"run_ids": ids["runs"]}))
        assert cancelled["results"] == [] and cancelled["not_found"] == ids["runs"]
        with pytest.raises(MCPError, match="not found"):
            await bob.read_resource(f"tinyfish://runs/{ids['runs'][0]}")
        # None of Bob's refused calls reached TinyFish (the browser close only looks up its own store).
        assert len(emulator.requests()) == requests_before

        # Listings: Bob sees nothing of hers; she sees hers, paged one by one with the cursor.
        assert result_json(await bob.call_tool("list_runs", {})) == {"runs": [], "total": 0}
        assert result_json(await bob.call_tool("list_research", {}))["runs"] == []
        assert result_json(await bob.call_tool("list_datasets", {}))["datasets"] == []
        assert result_json(await bob.call_tool("list_monitors", {}))["monitors"] == []
        assert result_json(await bob.call_tool("list_browser_sessions", {}))["sessions"] == []
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = result_json(
                await alice.call_tool("list_runs", {"limit": 1, **({"cursor": cursor} if cursor else {})})
            )
            assert page["total"] == 4 and len(page["runs"]) <= 1
            seen += [row["run_id"] for row in page["runs"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        assert sorted(seen) == sorted(ids["runs"]) and len(seen) == 4
        assert [
            r["research_run_id"] for r in result_json(await alice.call_tool("list_research", {}))["runs"]
        ] == [ids["research"]]
        assert [
            d["dataset_id"] for d in result_json(await alice.call_tool("list_datasets", {}))["datasets"]
        ] == [ids["dataset"]]
        assert [
            m["monitor_id"] for m in result_json(await alice.call_tool("list_monitors", {}))["monitors"]
        ] == [ids["monitor"]]
        mine = {
            s["session_id"]
            for s in result_json(await alice.call_tool("list_browser_sessions", {}))["sessions"]
        }
        assert {ids["browser"], ids["setup"]} <= mine
        # And her own id still works for her.
        assert (
            result_json(await alice.call_tool("get_run", {"id": ids["runs"][0]}))["run_id"] == ids["runs"][0]
        )

        # Bob's retry of Alice's session_id is his own session_id: a new run, never hers.
        creates = len(_creates(emulator))
        args = {"url": SHOP, "goal": "List the products", "session_id": session_id}
        his = result_json(await bob.call_tool("run_web_automation", args))
        assert his["run_id"] != ids["runs"][0] and len(_creates(emulator)) == creates + 1

    # Alice's retry through the other replica follows her run: nothing new upstream.
    async with replica_client(second, RESOURCE, issuer.token("alice")) as alice_again:
        again = result_json(await alice_again.call_tool("run_web_automation", args))
    assert again["run_id"] == ids["runs"][0] and len(_creates(emulator)) == creates + 1


async def test_unowned_runs_are_shown_to_no_one_and_listed_by_admin(
    replicas: tuple[Served, Served], issuer: _Issuer, emulator: Any
) -> None:
    first, _ = replicas
    # A run started with the deployment's key outside this server: nobody's.
    response = httpx.post(
        f"{emulator.base_url}/v1/automation/run-async",
        json={"url": SHOP, "goal": "Made elsewhere"},
        headers={"X-API-Key": emulator.api_key},
    )
    outside = response.json()["run_id"]
    async with replica_client(first, RESOURCE, issuer.token("alice")) as alice:
        refused = await alice.call_tool("get_run", {"id": outside})
        assert refused.is_error and "not found" in result_text(refused).lower()
        assert result_json(await alice.call_tool("list_runs", {}))["runs"] == []
    env = dict(
        os.environ,
        TINYFISH_MCP_DATABASE_URL=first.settings.mcp_database_url,
        TINYFISH_API_KEY=emulator.api_key,
        TINYFISH_BASE_URL=emulator.base_url,
    )
    listed = subprocess.run(
        [sys.executable, "-m", "tinyfish_mcp", "admin", "unowned", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {"kind": "run", "id": outside} in [{"kind": r["kind"], "id": r["id"]} for r in rows]


async def test_a_lost_create_is_never_matched_to_another_users_look_alike_run(
    replicas: tuple[Served, Served], issuer: _Issuer, emulator: Any
) -> None:
    """Users share the key: the look for a lost run skips runs recorded for somebody else."""
    first, second = replicas
    args = {"url": SHOP, "goal": "The same goal for both"}
    async with (
        replica_client(first, RESOURCE, issuer.token("alice")) as alice,
        replica_client(second, RESOURCE, issuer.token("bob")) as bob,
    ):
        hers = result_json(await alice.call_tool("run_web_automation_async", args))["run_id"]
        # Bob's identical create is processed upstream, but its answer is lost.
        emulator.fault("/v1/automation/run-async", method="POST", status=502, after=True)
        his = await bob.call_tool("run_web_automation_async", args)
        assert not his.is_error, result_text(his)
        found = result_json(his)["run_id"]
        assert found != hers and hers not in result_text(his)
        assert len(_creates(emulator)) == 2  # his create was sent once, never again
        # The run found is his: recorded for him, and still not Alice's.
        assert result_json(await bob.call_tool("get_run", {"id": found}))["run_id"] == found
        assert (await alice.call_tool("get_run", {"id": found})).is_error

        # When nothing unowned matches, the error names no one's run, and since his list_runs
        # cannot show a run recorded for nobody, it says who can find it instead.
        emulator.fault("/v1/automation/run-async", method="POST", status=502)
        lost = await bob.call_tool("run_web_automation_async", args)
        said = result_text(lost)
        assert lost.is_error and "Do NOT start it again" in said and "admin unowned" in said
        assert hers not in said and found not in said and "list_runs(" not in said
