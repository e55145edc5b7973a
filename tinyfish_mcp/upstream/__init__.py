"""The TinyFish REST client: no MCP here, only the service's own APIs.

Modules: ``client`` (every endpoint), ``models`` (payloads), ``errors`` (the error tree),
``retry`` (when a request may be sent again), ``sse`` (the run event stream),
``_http`` (request mechanics) and ``constants``.
"""

from .client import TinyFishClient
from .errors import UpstreamError

__all__ = ["TinyFishClient", "UpstreamError"]
