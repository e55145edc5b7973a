"""Hooks for whoever watches the server (metrics): the layers call them, never a metrics library.

The upstream client reports each attempt it sends, the OAuth provider its sign-ins,
refreshes and replays, the browser toolset each session it opens or sees end;
``http/metrics.py`` registers an :class:`Observer` that turns
them into Prometheus metrics. An observer that fails never fails the call it watches.
Labels are closed vocabularies (product names, status codes, event names): callers
never pass a key, a token, a URL or a user's identity.
"""

from __future__ import annotations

import logging
from typing import Protocol

__all__ = [
    "Observer",
    "add_observer",
    "browser_session",
    "oauth_event",
    "remove_observer",
    "upstream_request",
]

log = logging.getLogger(__name__)


class Observer(Protocol):
    def upstream_request(self, product: str, status: str, attempt: int) -> None:
        """One attempt sent to the service: its HTTP status, or the transport error's class name."""

    def oauth_event(self, event: str, reason: str) -> None:
        """An OAuth event (``sign_in``, ``refresh``, ``reuse_detected``) and its reason, if any."""

    def browser_session(self, session_id: str, opened: bool, created_at: float) -> None:
        """A browser session (created at ``created_at``, epoch seconds) was opened (``opened``),
        or was closed or seen to have ended."""


_observers: list[Observer] = []


def add_observer(observer: Observer) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def upstream_request(product: str, status: str, attempt: int) -> None:
    for observer in _observers:
        try:
            observer.upstream_request(product, status, attempt)
        except Exception:  # a metric must never fail a request
            log.debug("observer failed", exc_info=True)


def oauth_event(event: str, reason: str = "") -> None:
    for observer in _observers:
        try:
            observer.oauth_event(event, reason)
        except Exception:  # a metric must never fail a sign-in
            log.debug("observer failed", exc_info=True)


def browser_session(session_id: str, *, opened: bool, created_at: float) -> None:
    for observer in _observers:
        try:
            observer.browser_session(session_id, opened, created_at)
        except Exception:  # a metric must never fail a session
            log.debug("observer failed", exc_info=True)
