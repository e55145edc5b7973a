"""The floor: a bare ``MCPServer`` with one tool, started exactly like ours.

Same ``mcp`` version, same interpreter. Its one tool makes the same ``GET /v1/runs/{id}``
as our ``get_run`` (httpx imported on the first call, so a cold start measures only the
SDK), which makes it the SDK's floor for a tool call too.

``python -m bench._bare_server`` serves stdio; ``python -m bench._bare_server http PORT``
serves stateless streamable HTTP at ``/mcp`` under uvicorn at log level warning, as ours does.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer

# WARNING, as the benchmarks run ours (TINYFISH_MCP_LOG_LEVEL=WARNING): no per-request log lines.
mcp = MCPServer("bare", log_level="WARNING")
_http: Any = None


@mcp.tool()
async def get_run(id: str) -> str:
    """Fetch one run from the upstream and return its JSON text."""
    global _http
    if _http is None:
        import httpx

        _http = httpx.AsyncClient(
            base_url=os.environ["TINYFISH_BASE_URL"], headers={"X-API-Key": os.environ["TINYFISH_API_KEY"]}
        )
    reply = await _http.get(f"/v1/runs/{id}")
    return str(reply.text)


def _serve_http(port: int) -> None:
    import uvicorn

    app = mcp.streamable_http_app(stateless_http=True, host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        _serve_http(int(sys.argv[2]))
    else:
        mcp.run()
