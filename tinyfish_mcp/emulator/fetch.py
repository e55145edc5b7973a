"""POST /v1/fetch: up to 10 URLs rendered and extracted, per-URL failures in ``errors[]``.

URLs on the emulator's own host under ``/_fixtures/`` are read from ``fixtures.py``;
other private, loopback and metadata addresses are refused as the documents say; any
other public URL gets a synthetic page (this machine has no internet), extracted by
the same code, so every format is real extraction.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from .context import Call
from .extract import parse_html
from .fixtures import FETCH_TIMEOUT_SECONDS, Fixture, fixture, fixture_delay
from .validation import PROXY_COUNTRIES, check_bool, is_http_url
from .wire import Issue, invalid_input, issue, read_json

__all__ = ["fetch"]

FORMATS = ("markdown", "html", "json")
MAX_URLS = 10
DISALLOWED = "Invalid or disallowed URL"


class FetchFailure(Exception):
    """One URL failed; the message is the documented ``error`` string."""


def _validate(body: object) -> tuple[list[Any], str, bool, bool]:
    issues: list[Issue] = []
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    urls = body.get("urls")
    if not isinstance(urls, list):
        issues.append(issue("invalid_type", ["urls"], "Required: expected array of URLs"))
        urls = []
    elif not urls:
        issues.append(issue("too_small", ["urls"], "Too small: expected array to have >=1 items"))
    elif len(urls) > MAX_URLS:
        issues.append(issue("too_big", ["urls"], f"Too big: expected array to have <={MAX_URLS} items"))
    for index, url in enumerate(urls):
        if not isinstance(url, str):
            issues.append(issue("invalid_type", ["urls", index], "Expected string"))
    fmt = body.get("format") or "markdown"
    if fmt not in FORMATS:
        issues.append(
            issue("invalid_value", ["format"], 'Invalid option: expected one of "markdown"|"html"|"json"')
        )
    check_bool(body, "links", [], issues)
    check_bool(body, "image_links", [], issues)
    proxy = body.get("proxy_config")
    if proxy is not None:
        if not isinstance(proxy, dict):
            issues.append(issue("invalid_type", ["proxy_config"], "Expected object"))
        elif proxy.get("country_code") not in PROXY_COUNTRIES:
            wanted = "|".join(PROXY_COUNTRIES)
            issues.append(
                issue(
                    "invalid_value",
                    ["proxy_config", "country_code"],
                    f"Invalid option: expected one of {wanted}",
                )
            )
    if issues:
        raise invalid_input(issues)
    return urls, str(fmt), body.get("links") is True, body.get("image_links") is True


def _is_private(host: str) -> bool:
    if host in ("localhost", "metadata.google.internal") or host.endswith(
        (".localhost", ".internal", ".local")
    ):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def _own_fixture(call: Call, url: str) -> str | None:
    """The fixture name when ``url`` points at this emulator's ``/_fixtures/``."""
    parts = urlsplit(url)
    here = call.request.url
    same_host = parts.hostname in (here.hostname, "127.0.0.1", "localhost")
    if same_host and parts.port == here.port and parts.path.startswith("/_fixtures/"):
        return parts.path.removeprefix("/_fixtures/")
    return None


def _synthetic(url: str) -> Fixture:
    parts = urlsplit(url)
    host = parts.hostname or "example.com"
    words = [w for w in re.split(r"[/\-_.]+", parts.path) if w] or ["home"]
    topic = " ".join(words).title()
    page = f"""<!DOCTYPE html><html lang="en"><head><title>{html.escape(topic)} | {host}</title>
<meta name="description" content="{html.escape(topic)} on {host}: an overview page."></head>
<body><nav><a href="/">Home</a></nav><main><h1>{html.escape(topic)}</h1>
<p>This page on {host} is about {html.escape(topic.lower())}. It lists the key facts and links to details.</p>
<ul><li>Overview of {html.escape(topic.lower())}</li><li>Pricing and availability</li>
<li>Contact details</li></ul>
<p>See <a href="/about">about us</a> and <a href="https://{host}/contact">contact</a>.</p>
<p><img src="/static/banner.jpg" alt="{html.escape(topic)} banner"></p></main></body></html>"""
    return Fixture(200, "text/html; charset=utf-8", page.encode(), parts.path or "/")


def _pdf_text(body: bytes) -> str:
    strings = re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", body)
    return "\n\n".join(re.sub(rb"\\(.)", rb"\1", s).decode("latin-1") for s in strings)


def _text_result(text: str, fmt: str, title: str | None = None) -> dict[str, Any]:
    if fmt == "json":
        return {
            "text": {"type": "document", "title": title, "children": [{"type": "paragraph", "text": text}]}
        }
    if fmt == "html":
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())
        return {"text": paragraphs}
    return {"text": text if text.endswith("\n") else text + "\n"}


def _extract(doc: Fixture, url: str, final_url: str, fmt: str, links: bool, images: bool) -> dict[str, Any]:
    if doc.status == 403:
        raise FetchFailure("bot protection detected")
    if doc.status >= 400:
        raise FetchFailure(f"fetch failed: HTTP {doc.status}")
    kind = doc.content_type.split(";")[0]
    result: dict[str, Any] = {"url": url, "final_url": final_url}
    if kind == "text/html":
        page = parse_html(doc.body.decode("utf-8", "replace"), final_url)
        for name in ("title", "description", "language", "author", "published_date"):
            value = getattr(page, name)
            if value is not None:
                result[name] = value
        text: Any = {"markdown": page.markdown, "html": page.html, "json": page.document}[fmt]()
        if fmt != "json" and not str(text).strip():
            raise FetchFailure("no extractable content")
        result["text"] = text
        if links:
            result["links"] = page.links()
        if images:
            result["image_links"] = page.image_links()
    elif kind == "application/json":
        result.update(_text_result(json.dumps(json.loads(doc.body), indent=2), fmt))
    elif kind == "application/pdf":
        text = _pdf_text(doc.body)
        if not text:
            raise FetchFailure("no extractable content")
        result.update(_text_result(text, fmt, text.split("\n")[0]))
        result["title"] = text.split("\n")[0]
    elif kind == "text/plain":
        result.update(_text_result(doc.body.decode("utf-8", "replace"), fmt))
    else:
        raise FetchFailure("no extractable content")
    if links and "links" not in result:
        result["links"] = []
    if images and "image_links" not in result:
        result["image_links"] = []
    result["format"] = fmt
    return result


async def _fetch_one(call: Call, url: str, fmt: str, links: bool, images: bool) -> dict[str, Any]:
    started = time.perf_counter()
    if not is_http_url(url):
        raise FetchFailure(DISALLOWED)
    name = _own_fixture(call, url)
    if name is not None:
        doc = call.store.pages.get(name) or fixture(name)
        final_url = url.split("/_fixtures/")[0] + "/_fixtures/" + doc.name
        if doc.slow:
            timeout = FETCH_TIMEOUT_SECONDS * call.config.time_scale
            await asyncio.sleep(min(timeout, fixture_delay(call.config)))
            raise FetchFailure("fetch timeout")
    elif _is_private(urlsplit(url).hostname or ""):
        raise FetchFailure(DISALLOWED)
    else:
        doc, final_url = _synthetic(url), url
    result = _extract(doc, url, final_url, fmt, links, images)
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def fetch(call: Call) -> Response:
    urls, fmt, links, images = _validate(await read_json(call.request))
    outcomes = await asyncio.gather(
        *(_fetch_one(call, url, fmt, links, images) for url in urls), return_exceptions=True
    )
    results: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for url, outcome in zip(urls, outcomes, strict=True):
        if isinstance(outcome, FetchFailure):
            errors.append({"url": url, "error": str(outcome)})
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    return JSONResponse({"results": results, "errors": errors})
