"""What every API handler receives: the request, the caller's key, the store, the config."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from .config import EmulatorConfig
from .faults import Fault
from .state import Store

__all__ = ["Call"]


@dataclass
class Call:
    request: Request
    key: str
    store: Store
    config: EmulatorConfig
    fault: Fault | None = None

    @property
    def base_url(self) -> str:
        """The emulator's own base URL as the caller reached it (no trailing slash)."""
        return str(self.request.base_url).rstrip("/")
