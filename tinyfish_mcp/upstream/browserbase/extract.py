"""Browserbase's ``/v1/fetch`` returns the raw document; this turns it into fetch_content's formats.

The extraction library is trafilatura: it is the field's reference for pulling the main
text out of a web page (it leads the published main-content benchmarks, is maintained,
and is used in research crawls at scale), and it writes the three formats fetch_content
promises — markdown, a cleaned HTML, and JSON with the page's metadata — from one
parse, with title, author, date and description beside them. It loads on first use only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

__all__ = ["Extracted", "extract"]

MAX_LINKS = 500


@dataclass
class Extracted:
    text: str | None
    title: str | None = None
    description: str | None = None
    author: str | None = None
    published_date: str | None = None
    language: str | None = None
    links: list[str] = field(default_factory=list)
    image_links: list[str] = field(default_factory=list)
    error: str | None = None


def _links(html: str, url: str) -> tuple[list[str], list[str]]:
    import lxml.html  # type: ignore[import-untyped]

    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return [], []
    links = dict.fromkeys(
        urljoin(url, href)
        for href in root.xpath("//a/@href")
        if not str(href).startswith(("#", "javascript:"))
    )
    images = dict.fromkeys(urljoin(url, src) for src in root.xpath("//img/@src"))
    return list(links)[:MAX_LINKS], list(images)[:MAX_LINKS]


def extract(content: str, content_type: str, url: str, fmt: str, *, want_links: bool) -> Extracted:
    """The page in ``fmt`` (markdown, html or json) with its metadata; ``error`` when it has no text."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("application/json", "text/plain", "text/markdown", "text/csv") or kind.endswith("+json"):
        return Extracted(text=content)
    if kind not in ("text/html", "application/xhtml+xml", ""):
        return Extracted(text=None, error=f"no extractable content ({kind or 'unknown type'})")
    import trafilatura

    meta = trafilatura.extract_metadata(content, default_url=url)
    found = Extracted(
        text=None,
        title=meta.title if meta else None,
        description=meta.description if meta else None,
        author=meta.author if meta else None,
        published_date=meta.date if meta else None,
        language=meta.language if meta else None,
    )
    if want_links:
        found.links, found.image_links = _links(content, url)
    options: dict[str, Any] = {
        "url": url,
        "include_links": True,
        "include_tables": True,
        "favor_recall": True,
    }
    if fmt == "json":
        raw = trafilatura.extract(content, output_format="json", with_metadata=True, **options)
        if raw:
            data = json.loads(raw)
            keep = ("title", "author", "date", "excerpt", "language", "source", "text")
            found.text = json.dumps({k: data[k] for k in keep if data.get(k)}, ensure_ascii=False)
    else:
        found.text = trafilatura.extract(content, output_format=fmt, **options)
    if not found.text:
        plain = trafilatura.html2txt(content)
        if not plain.strip():
            found.error = "no extractable content (the page has no text)"
        elif fmt == "json":
            found.text = json.dumps({"title": found.title, "text": plain}, ensure_ascii=False)
        else:
            found.text = plain
    return found
