"""The one place that asks which vendor serves what: ``settings.mcp_*_provider`` -> providers.

The capabilities are Protocols in ``providers.py``; ``tinyfish/`` and ``browserbase/``
implement them. This module sits above all three, so neither implementation imports
the module that chooses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .providers import BrowserProvider, Credential, FetchProvider, Providers, SearchProvider

if TYPE_CHECKING:
    from ..settings import Settings
    from .client import TinyFishClient

__all__ = ["build_providers"]


def build_providers(settings: Settings, client: TinyFishClient, caller_key: Credential) -> Providers:
    """The providers ``settings`` select: the one place that asks which vendor serves what.

    ``caller_key`` resolves the caller's TinyFish key. A Browserbase provider without a
    Browserbase key never gets here: the settings refuse it at start-up.
    """
    from .tinyfish import TinyFishBrowser, TinyFishFetch, TinyFishSearch

    browser: BrowserProvider = TinyFishBrowser(client, caller_key)
    fetch: FetchProvider = TinyFishFetch(client, caller_key)
    search: SearchProvider = TinyFishSearch(client, caller_key)
    closers: list[Callable[[], Awaitable[None]]] = []
    chosen = (settings.mcp_browser_provider, settings.mcp_fetch_provider, settings.mcp_search_provider)
    if "browserbase" in chosen:
        from .browserbase import BrowserbaseBrowser, BrowserbaseClient, BrowserbaseFetch, BrowserbaseSearch

        bb = BrowserbaseClient(settings)
        closers.append(bb.aclose)
        if settings.mcp_browser_provider == "browserbase":
            browser = BrowserbaseBrowser(bb)
        if settings.mcp_fetch_provider == "browserbase":
            fetch = BrowserbaseFetch(bb)
        if settings.mcp_search_provider == "browserbase":
            search = BrowserbaseSearch(bb)
    return Providers(browser=browser, fetch=fetch, search=search, closers=tuple(closers))
