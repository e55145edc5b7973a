"""Fixed tunables of the upstream client that are not worth a setting.

Everything a deployment may want to change (timeouts, retry bounds) lives in
``Settings``; these are the values that only change with the code.
"""

from __future__ import annotations

import enum

from .. import __version__

__all__ = [
    "API_KEY_HEADER",
    "MAX_SELECTORS",
    "PER_URL_TIMEOUT_MS",
    "POOL_KEEPALIVE_EXPIRY",
    "POOL_MAX_KEEPALIVE",
    "POOL_MAX_SHARDS",
    "POOL_SHARD_SIZE",
    "REQUEST_ID_HEADERS",
    "SEARCH_MAX_PAGE",
    "SEARCH_RECENCY_MAX_MINUTES",
    "SSE_READ_TIMEOUT",
    "TOP_UP_URL",
    "USER_AGENT",
    "RequestKind",
]

API_KEY_HEADER = "X-API-Key"
USER_AGENT = f"tinyfish-mcp/{__version__}"

# One pool serves every user of an HTTP deployment. Each streamed run holds a connection
# for minutes, so the number of connections is not capped: when requests queue behind a
# cap, httpcore's pool slows down with the queue length (measured: 1,000 concurrent runs
# through a 200-connection pool never started; uncapped they all completed). The idle
# set kept for reuse stays bounded.
# Uncapped is not enough either: httpcore's pool scans all its connections on every
# request and every closed response, so one pool holding thousands of streams makes each
# new run cost O(streams). Event streams therefore go to pools of their own, shards of
# ``POOL_SHARD_SIZE`` open streams (``_pool.py``); past ``POOL_MAX_SHARDS`` shards, a new
# stream goes to the least busy one.
# (Plain numbers, not an ``httpx2.Limits``: the stdio cold start does not import httpx2
# until the first upstream call.)
POOL_SHARD_SIZE = 64
POOL_MAX_SHARDS = 1024
POOL_MAX_KEEPALIVE = 50
POOL_KEEPALIVE_EXPIRY = 5.0

# The run-sse stream sends a HEARTBEAT every few seconds while the agent works, and every
# received chunk restarts httpx's read timer. A read timeout well above the heartbeat gap
# therefore only fires on a stream that has really gone silent, while a slow run (minutes
# between PROGRESS events) is never cut off.
SSE_READ_TIMEOUT = 60.0

# The bounds of the Fetch and Search APIs that the tools advertise too (kept here, not with the
# payload models, so a tool's signature does not load those models at start-up).
PER_URL_TIMEOUT_MS = (1, 110_000)
MAX_SELECTORS = 20
SEARCH_RECENCY_MAX_MINUTES = 5_256_000  # ten years
SEARCH_MAX_PAGE = 10

# Where a user adds credits (errors, the top-up question and get_wallet name it).
TOP_UP_URL = "https://agent.tinyfish.ai/billing"

# Header names under which a gateway may report the id of the request (for support).
REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "cf-ray")


class RequestKind(enum.Enum):
    """Whether sending a request twice can do harm (see THE RULE in ``retry.py``)."""

    CREATE = "create"  # may create a billable run or session
    IDEMPOTENT = "idempotent"  # reads, fetch, search, cancels: safe to send again
