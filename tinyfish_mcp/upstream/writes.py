"""What one tool call's upstream writes may have done, for deciding whether it may run again.

A caller opens a :class:`WriteLog` around a tool call (:func:`watching`); the request loop
(``_http.py``) notes every attempt of a request that is not a read. An attempt answered
with a 4xx (408 aside) was refused before anything was made: TinyFish checks the key, the
credit and the input first (as the emulator does, ``emulator/app.py``). A 2xx, a 5xx or a
lost answer may have made something (a run, a session). So a call whose log shows refusals
and nothing else provably created nothing upstream: running it again cannot double anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["WriteLog", "note_attempt", "note_credit_refusal", "watching"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
REQUEST_TIMEOUT = 408  # a 4xx that may come after the request was acted on


@dataclass
class WriteLog:
    refused: int = 0  # write attempts answered 4xx: nothing was made
    maybe_made: int = 0  # write attempts that may have made something
    credit_refused: bool = False  # the call failed on a TinyFish refusal for credits, nothing started

    @property
    def made_nothing(self) -> bool:
        """Every write was refused (and there was at least one)."""
        return self.refused > 0 and self.maybe_made == 0


_LOG: ContextVar[WriteLog | None] = ContextVar("tinyfish_write_log", default=None)


@contextmanager
def watching() -> Iterator[WriteLog]:
    """Note this block's upstream write attempts in a fresh log."""
    log = WriteLog()
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)


def note_attempt(method: str, outcome: int | Exception) -> None:
    """Note one attempt: its HTTP status, or the exception that stood in for an answer."""
    log = _LOG.get()
    if log is None or method.upper() in _READS:
        return
    if isinstance(outcome, int) and 400 <= outcome < 500 and outcome != REQUEST_TIMEOUT:
        log.refused += 1
    else:
        log.maybe_made += 1


def note_credit_refusal() -> None:
    """The call is failing because TinyFish refused it for credits (and no run id is known)."""
    log = _LOG.get()
    if log is not None:
        log.credit_refused = True
