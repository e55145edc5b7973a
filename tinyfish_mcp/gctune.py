"""Garbage-collector settings for a long-running server, applied once it has started.

CPython's cyclic collector runs a young collection every 700 net allocations and, every
so often, a full one that walks every tracked object. A started server holds ~100,000
(auth ``none``) to ~170,000 (``oauth``: SQLAlchemy and the OAuth stack) objects that live
as long as the process: measured under load on two cores, each full collection took 150-190 ms,
stalling every call in flight, and collections cost 0.4-0.6 ms of CPU per tool call.

So, once the server is built: :func:`gc.freeze` moves everything alive into the
permanent generation, which no collection walks again, and the young generation's
threshold is raised so that the short-lived cycles of each request (tasks, exceptions,
cancel scopes) are collected in batches. Measured the same way, collections then cost
under 0.03 ms per call and no collection walked the start-up heap. Memory is still
reclaimed: reference counting frees acyclic garbage at once, and cycles are still
collected, only less often.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_heap"]

# Net allocations between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 7_000


def settle_heap() -> None:
    """Freeze what start-up built and collect per-request garbage in larger batches."""
    gc.freeze()  # O(1): no collection first, which would cost the stdio start-up ~20 ms
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()  # the stdio command starts with the collector off (cli._serve_stdio)
