"""Rate limits shared by replicas: in the OAuth database, or in Redis.

Two replicas are two apps built by ``build_auth`` from the same settings (one database,
and one Redis when the case asks for it), each with its own limiter object, as two
processes would have. A client spreading its requests over both gets the deployment's
limit, not twice it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
import redis
import redis_server
from oauth_helpers import (
    REDIRECT,
    Database,
    Harness,
    authorize_params,
    form_fields,
    hosted_harness,
    make_settings,
    new_pkce,
    register,
)

from tinyfish_mcp.auth.ratelimit import sliding_decision
from tinyfish_mcp.auth.ratelimit_backends import RedisRateLimiter

LIMIT_STORES = ["database", "redis"] if redis_server.wanted() else ["database"]


@pytest.fixture(scope="session")
def redis_service() -> Iterator[str]:
    with redis_server.running_redis() as url:
        yield url


@pytest.fixture(params=LIMIT_STORES)
async def replicas(
    request: pytest.FixtureRequest, tmp_path: Path, database: Database
) -> AsyncIterator[tuple[Harness, Harness]]:
    overrides: dict[str, object] = {"mcp_database_url": database.url, "mcp_authorize_rate_limit": 4}
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_service")
        redis.Redis.from_url(url).flushall()
        overrides["mcp_redis_url"] = url
    settings = make_settings(tmp_path, **overrides)
    async with hosted_harness(settings) as first, hosted_harness(settings) as second:
        yield first, second


async def test_two_replicas_share_the_registration_limit(replicas: tuple[Harness, Harness]) -> None:
    first, second = replicas
    body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    async with first.http() as a, second.http() as b:
        statuses = [(await (a if i % 2 else b).post("/register", json=body)).status_code for i in range(20)]
        assert statuses == [201] * 20
        over_a, over_b = await a.post("/register", json=body), await b.post("/register", json=body)
    assert (over_a.status_code, over_b.status_code) == (429, 429)
    assert 1 <= int(over_a.headers["retry-after"]) <= 120  # the window, plus its fading


async def test_two_replicas_share_the_authorize_and_consent_limits(replicas: tuple[Harness, Harness]) -> None:
    first, second = replicas
    async with first.http() as a, second.http() as b:
        client = await register(a)
        _, challenge = new_pkce()
        params = authorize_params(client.client_id, challenge)
        started = [await (a if i % 2 else b).get("/authorize", params=params) for i in range(4)]
        assert [r.status_code for r in started] == [302] * 4
        assert (await a.get("/authorize", params=params)).status_code == 429
        assert (await b.get("/authorize", params=params)).status_code == 429

        # Consent: ten form posts in all (here refused for their CSRF token), then 429 on either.
        fields = form_fields((await a.get(started[0].headers["location"])).text)
        forged = {**fields, "csrf": "x", "api_key": "k"}
        statuses = [(await (a if i % 2 else b).post("/consent", data=forged)).status_code for i in range(10)]
        assert statuses == [403] * 10
        assert (await a.post("/consent", data=forged)).status_code == 429
        assert (await b.post("/consent", data=forged)).status_code == 429


async def test_another_address_keeps_its_own_budget(replicas: tuple[Harness, Harness]) -> None:
    first, second = replicas
    body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    async with first.http() as a:
        assert all([(await a.post("/register", json=body)).status_code == 201 for _ in range(20)])
        assert (await a.post("/register", json=body)).status_code == 429
    transport = httpx2.ASGITransport(app=second.app, client=("192.0.2.9", 4000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as elsewhere:
        assert (await elsewhere.post("/register", json=body)).status_code == 201


@pytest.mark.parametrize(
    ("current", "previous", "elapsed", "expected"),
    [
        (10, 0, 59.0, None),  # the window's tenth: fits
        (11, 0, 30.0, 30.0 + 60.0 * (1 - 9 / 10)),  # full: wait into the next window until it fades
        (5, 10, 30.0, None),  # half the previous window still counts: 5 + 5 = 10
        (6, 10, 30.0, 30.0 - 4 * 60.0 / 10),  # 5 + 6 > 10: fits once the previous weighs 4
        (1, 10, 1.0, 59.0 - 9 * 60.0 / 10),  # just after a full window, which still weighs 59/60
    ],
)
def test_sliding_window_estimate(current: int, previous: int, elapsed: float, expected: float | None) -> None:
    wait = sliding_decision(current, previous, 10, 60.0, elapsed)
    if expected is None:
        assert wait is None
    else:
        assert wait == pytest.approx(expected)


async def test_an_unreachable_redis_lets_requests_through_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        with caplog.at_level(logging.WARNING):
            assert [await limiter.hit("register:127.0.0.1", 1, 60.0) for _ in range(3)] == [None] * 3
    finally:
        await limiter.close()
    warnings = [r.getMessage() for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per request
