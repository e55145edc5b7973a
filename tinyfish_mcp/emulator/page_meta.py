"""Fetch's page-head metadata (``page_metadata=true``) and its usage records.

``page_metadata`` follows the hosted ``fetch_content`` definition
(tinyfish-io/tinyfish-mcp-server docs/tools.md): canonical URL, favicon, robots,
generator, viewport, keywords, every Open Graph (``og``), Twitter card (``twitter``) and
``article`` tag, and the remaining named meta tags under ``other``. The exact key names
are ours (no public source shows an answer): see docs/tools.md, "Endpoints and shapes".

Each fetched or failed URL leaves a usage record in the shape of tinyfish-go's
``FetchUsageItem`` (metadata only, never the text), read by ``GET /v1/fetch/usage``.
"""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from .context import Call
from .wire import iso, now

__all__ = ["page_metadata", "record_fetches"]

_NAMED = {"robots", "generator", "viewport", "keywords"}
_GROUPS = ("og", "twitter", "article")
MAX_TAGS = 100


class _Head(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: list[dict[str, str]] = []
        self.links: list[dict[str, str]] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "meta" and len(self.meta) < MAX_TAGS:
            self.meta.append(values)
        elif tag == "link":
            self.links.append(values)
        elif tag == "body":
            self.done = True


def page_metadata(source: str, final_url: str) -> dict[str, Any]:
    """The page's ``<head>`` metadata; missing parts are null (or empty groups)."""
    head = _Head()
    head.feed(source)
    answer: dict[str, Any] = {
        "canonical_url": None,
        "favicon": None,
        "robots": None,
        "generator": None,
        "viewport": None,
        "keywords": None,
        "og": {},
        "twitter": {},
        "article": {},
        "other": {},
    }
    for link in head.links:
        rels = set(link.get("rel", "").lower().split())
        if "canonical" in rels and link.get("href") and answer["canonical_url"] is None:
            answer["canonical_url"] = urljoin(final_url, link["href"])
        if rels & {"icon", "shortcut"} and link.get("href") and answer["favicon"] is None:
            answer["favicon"] = urljoin(final_url, link["href"])
    for meta in head.meta:
        name = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = meta.get("content")
        if not name or content is None:
            continue
        if name in _NAMED:
            answer[name] = content
            continue
        prefix, _, rest = name.partition(":")
        if prefix in _GROUPS and rest:
            answer[prefix].setdefault(rest, content)
        else:
            answer["other"].setdefault(name, content)
    return answer


def record_fetches(call: Call, fmt: str, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> None:
    """One usage record per URL of a fetch, newest last."""
    moment = iso(now())
    for result in results:
        text = result.get("text")
        call.store.fetch_usage.append(
            {
                "_owner": call.key,
                "id": str(uuid.uuid4()),
                "url": result["url"],
                "final_url": result.get("final_url") or result["url"],
                "title": result.get("title"),
                "description": result.get("description"),
                "language": result.get("language"),
                "author": result.get("author"),
                "published_date": result.get("published_date"),
                "format": fmt,
                "status": "completed",
                "request_origin": "api",
                "request_id": None,
                "text_length": len(text) if isinstance(text, str) else None,
                "links_count": len(result.get("links") or []),
                "image_links_count": len(result.get("image_links") or []),
                "latency_ms": result.get("latency_ms"),
                "created_at": moment,
                "error": None,
            }
        )
    for error in errors:
        call.store.fetch_usage.append(
            {
                "_owner": call.key,
                "id": str(uuid.uuid4()),
                "url": error["url"],
                "final_url": error["url"],
                "format": fmt,
                "status": "failed",
                "request_origin": "api",
                "links_count": 0,
                "image_links_count": 0,
                "created_at": moment,
                "error": error.get("error"),
            }
        )
