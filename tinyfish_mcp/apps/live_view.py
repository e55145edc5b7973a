"""The live-view app: one ``ui://`` resource, served through the SDK's Apps extension.

The page (``live_view.html``, dependency-free) speaks the MCP Apps host bridge's
postMessage JSON-RPC: it takes the tool result the host hands it, frames the live
browser (a run's ``streaming_url``, a session's inspector, a profile's viewer), and
while a run goes on calls ``get_run`` / ``get_steps`` through the host, which are
ordinary tool calls under the caller's ownership rules. A Tasks-aware host hands it a
task handle as a tool result whose ``_meta`` names the work (``pipeline.tasks.WORK``);
the page follows that run the same way (docs/live-view.md, "Following a task"). Where a
host refuses the frame, the page shows a link instead.

Which origins it may frame is a setting (``TINYFISH_MCP_APP_FRAME_DOMAINS``); the
defaults below name where each comes from.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit

from mcp.server.apps import Apps, ResourceCsp

from ..runtime.live_view import LIVE_VIEW_URI
from ..settings import Settings

__all__ = [
    "DOCUMENTED_FRAME_DOMAINS",
    "INFERRED_CONNECT_DOMAINS",
    "INFERRED_FRAME_DOMAINS",
    "frame_domains",
    "live_view_app",
    "page",
]

# A run's streaming_url: TinyFish's docs show https://tf-<id>.<region>-tinyfish.unikraft.app/stream/0.
DOCUMENTED_FRAME_DOMAINS = ("https://*.unikraft.app",)
# A browser session's inspector (the devtoolsFrontendUrl of {base_url}/pages) and a profile's
# viewer: the docs show base_url on *.tinyfish.io but no inspector host, so this is inferred.
INFERRED_FRAME_DOMAINS = ("https://*.tinyfish.io",)
# The DevTools inspector's websocket (ws= of the devtoolsFrontendUrl): inferred likewise.
INFERRED_CONNECT_DOMAINS = ("wss://*.tinyfish.io",)


@cache
def _template() -> str:
    return files(__package__).joinpath("live_view.html").read_text(encoding="utf-8")


def page(settings: Settings) -> str:
    """The app's HTML, told which origins it may frame (others get a link)."""
    listed = json.dumps(frame_domains(settings)).replace("</", "<\\/")
    return _template().replace("/*FRAME_DOMAINS*/[]", listed)


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def frame_domains(settings: Settings) -> list[str]:
    """The origins the live view may frame: the setting, else the defaults plus base_url's origin."""
    if settings.mcp_app_frame_domains is not None:
        return list(settings.mcp_app_frame_domains)
    own = _origin(settings.base_url)
    return [*DOCUMENTED_FRAME_DOMAINS, *INFERRED_FRAME_DOMAINS, *([own] if own else [])]


def connect_domains(settings: Settings) -> list[str]:
    """The origins the live view may connect to (the inspector's websocket, the sandbox's own)."""
    if settings.mcp_app_connect_domains is not None:
        return list(settings.mcp_app_connect_domains)
    own = _origin(settings.base_url)
    socket = own.replace("http", "ws", 1) if own else None
    return [*INFERRED_CONNECT_DOMAINS, *([own, socket] if own and socket else [])]


def live_view_app(settings: Settings) -> Apps:
    """The Apps extension serving the live view, for ``MCPServer(extensions=[...])``."""
    apps = Apps()
    apps.add_html_resource(
        LIVE_VIEW_URI,
        page(settings),
        name="live-view",
        title="TinyFish live view",
        description="The live browser of a run, browser session or profile setup, with its steps and result.",
        csp=ResourceCsp(frame_domains=frame_domains(settings), connect_domains=connect_domains(settings)),
        prefers_border=True,
    )
    return apps
