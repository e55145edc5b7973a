"""The upstream connection pool, with event streams kept apart in small shards.

httpcore's pool re-examines every connection it holds each time a request arrives and
each time a response is closed (``_assign_requests_to_connections``). A streamed run
holds its connection for minutes, so with N runs streaming in one pool every new request
and every finished stream costs O(N): ten thousand concurrent runs made starting them
quadratic (measured: past 6,000 open streams, 85 % of the server's CPU was that scan, and
new runs started at about 20 per second).

``ShardedTransport`` sends ordinary requests (JSON in, JSON out, over in seconds) to one
main pool that keeps idle connections for reuse, exactly as a single pool did. A request
that asks for an event stream (``Accept: text/event-stream``) goes to the first stream
shard with fewer than ``shard_size`` streams open, and a new shard is opened when all are
that busy; each shard is an independent pool, so its scans stay short whatever the total.
Stream shards keep no idle connections: a connection that carried a stream is closed when
the stream ends (a rarely visited shard would otherwise keep idle sockets indefinitely,
since a pool only expires them when it is used). A stream counts against its shard from
the request until its response is closed.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2

__all__ = ["ShardedTransport"]


@dataclass
class _Shard:
    transport: httpx2.AsyncHTTPTransport
    in_flight: int = 0


class _Released(httpx2.AsyncByteStream):
    """A response body that gives its request's place in the shard back when closed."""

    def __init__(self, inner: httpx2.AsyncByteStream, shard: _Shard) -> None:
        self._inner = inner
        self._shard: _Shard | None = shard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._shard is not None:
                self._shard.in_flight -= 1
                self._shard = None


class ShardedTransport(httpx2.AsyncBaseTransport):
    """A main pool for ordinary requests, and shards of ``shard_size`` streams (up to ``max_shards``)."""

    def __init__(
        self,
        *,
        shard_size: int,
        max_shards: int,
        max_keepalive: int,
        keepalive_expiry: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._shard_size = shard_size
        self._max_shards = max_shards
        self._keepalive_expiry = keepalive_expiry
        self._ssl = ssl_context or httpx2.create_ssl_context()
        self._main = _Shard(self._transport(max_keepalive))
        self._shards: list[_Shard] = []

    @property
    def stream_loads(self) -> list[int]:
        """Streams open per stream shard (first shard first)."""
        return [shard.in_flight for shard in self._shards]

    def _transport(self, keepalive: int) -> httpx2.AsyncHTTPTransport:
        limits = httpx2.Limits(
            max_connections=None, max_keepalive_connections=keepalive, keepalive_expiry=self._keepalive_expiry
        )
        return httpx2.AsyncHTTPTransport(verify=self._ssl, limits=limits)

    def _pick(self, request: httpx2.Request) -> _Shard:
        if "text/event-stream" not in request.headers.get("accept", ""):
            return self._main
        for shard in self._shards:
            if shard.in_flight < self._shard_size:
                return shard
        if len(self._shards) < self._max_shards:
            shard = _Shard(self._transport(0))
            self._shards.append(shard)
            return shard
        return min(self._shards, key=lambda shard: shard.in_flight)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        shard = self._pick(request)
        shard.in_flight += 1
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            shard.in_flight -= 1
            raise
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _Released(response.stream, shard)
        return response

    async def aclose(self) -> None:
        shards, self._shards = [self._main, *self._shards], []
        for shard in shards:
            await shard.transport.aclose()
