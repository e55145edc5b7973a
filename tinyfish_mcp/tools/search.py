"""The 'search' toolset: ``search_web`` returns ranked web results for a query.

The Search API allows only a few requests a minute (5 by default). The client already
retries a 429 with a short backoff; when that is not enough the tool error tells the
model to wait instead of looping.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field, ValidationError

from ..upstream.models import SearchParams
from ._schema import OutputModel, as_tool_result
from .context import ToolDeps
from .errors import invalid_input, upstream_call

__all__ = ["SearchHit", "SearchWebResult", "register"]

SNIPPET_CHARS = 400  # results are short by nature; this only guards against a runaway snippet
MAX_RESULTS = 20

DESCRIPTION = (
    "Search the web: ranked results with title, url and snippet. Give location or language and "
    "the other is inferred (default US/en). About 5 searches a minute."
)


class SearchHit(OutputModel):
    position: int
    title: str
    url: str
    snippet: str
    site_name: str | None = None


class SearchWebResult(OutputModel):
    query: str
    location: str | None = None
    language: str | None = None
    results: list[SearchHit]


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register ``search_web`` on ``mcp``."""

    @mcp.tool(
        description=DESCRIPTION,
        annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=True),
    )
    async def search_web(
        query: str,
        location: Annotated[str | None, Field(description="Country code, e.g. US")] = None,
        language: Annotated[str | None, Field(description="Language code, e.g. en")] = None,
    ) -> Annotated[CallToolResult, SearchWebResult]:
        """Search through TinyFish Search (see DESCRIPTION)."""
        try:
            params = SearchParams(
                query=query,
                location=location.strip() if location and location.strip() else None,
                language=language.strip() if language and language.strip() else None,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        key = await deps.resolve_key()
        # A 429 names the Search API's own limit, which is what a rate-limited caller needs.
        response = await upstream_call(
            "searching",
            deps.client.search(key, params),
            rate_limit="The Search API allows about 5 searches a minute",
        )
        hits = [
            SearchHit(
                position=r.position,
                title=r.title,
                url=r.url,
                snippet=r.snippet
                if len(r.snippet) <= SNIPPET_CHARS
                else r.snippet[: SNIPPET_CHARS - 3] + "...",
                site_name=r.site_name,
            )
            for r in sorted(response.results, key=lambda r: r.position)[:MAX_RESULTS]
        ]
        location = response.location or params.location
        return as_tool_result(
            SearchWebResult(
                query=response.query or params.query,
                # Country codes read best upper case (US), as the documents write them.
                location=location.upper() if location and len(location) == 2 else location,
                language=response.language or params.language,
                results=hits,
            )
        )
