"""What every TinyFish API needs from HTTP: a product's URL and timeout, over the one pool.

``RoutedCore`` is the seam between the request mechanics (``_http.HttpCore``) and the
product APIs. ``TinyFishClient`` and each product module (``wallet``, ``monitors``,
``research``, ...) are handed the same instance; a product module depends on this seam,
never on the client, so the client can import the products without an import circle.

The ``HttpCore`` under it is built on first use: the stdio server lists its tools (and
answers a client's first requests) before httpx is even imported, which keeps the cold
start short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .constants import RequestKind

if TYPE_CHECKING:
    import httpx2

    from ..settings import Product, Settings
    from ._http import HttpCore

__all__ = ["RoutedCore"]

M = TypeVar("M", bound=BaseModel)


class RoutedCore:
    """Routes a call to its product (``settings.product_url``) with that product's timeout.

    Owns the pool unless ``http`` is handed in (then the caller closes it).
    """

    def __init__(self, settings: Settings, http: httpx2.AsyncClient | None = None) -> None:
        self.settings = settings
        self._shared_http = http
        self._core: HttpCore | None = None

    @property
    def http(self) -> HttpCore:
        """The request mechanics (headers, retries, error mapping), built on first use."""
        if self._core is None:
            from ._http import HttpCore

            self._core = HttpCore(self.settings, self._shared_http)
        return self._core

    def url(self, product: Product, path: str = "") -> str:
        return self.settings.product_url(product, path)

    def timeout(self, product: Product) -> float:
        return self.settings.timeout_for(product)

    async def call(
        self,
        model: type[M],
        method: str,
        product: Product,
        path: str = "",
        *,
        key: str,
        kind: RequestKind = RequestKind.IDEMPOTENT,
        read_timeout: float | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> M:
        """One request to ``path`` of ``product``, routed and timed out as the settings say."""
        return await self.http.request_model(
            model,
            method,
            self.url(product, path),
            key=key,
            kind=kind,
            product=product,
            read_timeout=read_timeout or self.timeout(product),
            json=json,
            params=params,
        )

    async def aclose(self) -> None:
        """Close the pool if it was opened here and not handed in."""
        if self._core is not None:
            await self._core.aclose()
