"""POST /v1/fetch: up to 10 URLs rendered and extracted, per-URL failures in ``errors[]``.

URLs on the emulator's own host under ``/_fixtures/`` are read from ``fixtures.py``;
other private, loopback and metadata addresses are refused as the documents say; any
other public URL gets a synthetic page (this machine has no internet), extracted by
the same code, so every format is real extraction.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from .context import Call
from .extract import Page, parse_html
from .fixtures import FETCH_TIMEOUT_SECONDS, Fixture, fixture, fixture_delay
from .page_meta import page_metadata, record_fetches
from .select import InvalidSelector, Selector, candidates, highlights, scope
from .validation import PROXY_COUNTRIES, check_bool, check_int, is_http_url
from .wire import ApiError, Issue, invalid_input, issue, read_json

__all__ = ["fetch"]

FORMATS = ("markdown", "html", "json")
MAX_URLS = 10
DISALLOWED = "Invalid or disallowed URL"
PURPOSE_MAX = 2000
MAX_SELECTORS = 20
# The Last-Modified every fixture's origin reports (its ETag is a hash of its content).
FIXTURE_LAST_MODIFIED = "Sat, 14 Jun 2025 09:30:00 GMT"


class FetchFailure(Exception):
    """One URL failed; the message is the documented ``error`` string."""

    def __init__(self, message: str, **extra: list[str]) -> None:
        super().__init__(message)
        self.extra = extra


@dataclass(frozen=True)
class Options:
    """What the caller asked of every URL."""

    fmt: str = "markdown"
    links: bool = False
    images: bool = False
    html_head: bool = False
    page_metadata: bool = False
    timeout_ms: int | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    validators: bool = False
    highlights: dict[str, Any] | None = None
    include: tuple[Selector, ...] = ()
    exclude: tuple[Selector, ...] = ()


_HIGHLIGHT_KEYS = ("query", "max_snippets", "max_characters", "include_full_page_text")


def _check_highlights(value: object, fmt: str, issues: list[Issue]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        issues.append(issue("invalid_type", ["highlights"], "Expected object"))
        return None
    for key in value:
        if key not in _HIGHLIGHT_KEYS:
            issues.append(issue("unrecognized_keys", ["highlights"], f"Unrecognized key: {key!r}"))
    query = value.get("query")
    if not isinstance(query, str) or not query.strip():
        issues.append(issue("too_small", ["highlights", "query"], "Required: a non-empty string"))
    if value.get("max_snippets") is not None:
        check_int(value["max_snippets"], ["highlights", "max_snippets"], issues, low=1, high=20)
    if value.get("max_characters") is not None:
        check_int(value["max_characters"], ["highlights", "max_characters"], issues, low=1)
    check_bool(value, "include_full_page_text", ["highlights"], issues)
    if fmt != "markdown":
        issues.append(issue("custom", ["highlights"], "highlights is only valid when format is 'markdown'"))
    return value


def _selectors(body: dict[str, Any], name: str, issues: list[Issue]) -> tuple[Selector, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        issues.append(issue("invalid_type", [name], "Expected array of CSS selector strings"))
        return ()
    if not 1 <= len(value) <= MAX_SELECTORS:
        issues.append(issue("too_big", [name], f"Expected 1 to {MAX_SELECTORS} selectors"))
        return ()
    try:
        return tuple(Selector(v) for v in value)
    except InvalidSelector as exc:
        raise ApiError(422, "INVALID_SELECTOR", f"{exc}: fix its syntax") from None


def _validate(body: object) -> tuple[list[Any], Options]:
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
    for name in (
        "links",
        "image_links",
        "include_html_head",
        "include_etag_and_last_modified",
        "page_metadata",
    ):
        check_bool(body, name, [], issues)
    purpose = body.get("purpose")
    if purpose is not None and (
        not isinstance(purpose, str) or not purpose.strip() or len(purpose) > PURPOSE_MAX
    ):
        issues.append(issue("invalid_value", ["purpose"], f"Expected a non-empty string of <={PURPOSE_MAX}"))
    if body.get("ttl") is not None:
        check_int(body["ttl"], ["ttl"], issues, low=0)
    if body.get("per_url_timeout_ms") is not None:
        check_int(body["per_url_timeout_ms"], ["per_url_timeout_ms"], issues, low=1, high=110_000)
    for name in ("if_none_match", "if_modified_since"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            issues.append(issue("invalid_type", [name], "Expected string"))
        elif value is not None and len(urls) > 1:
            issues.append(issue("custom", [name], f"{name} can only be used with a single URL, not a batch"))
    highlights = _check_highlights(body.get("highlights"), str(fmt), issues)
    include = _selectors(body, "include_selectors", issues)
    exclude = _selectors(body, "exclude_selectors", issues)
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
    return urls, Options(
        fmt=str(fmt),
        links=body.get("links") is True,
        images=body.get("image_links") is True,
        html_head=body.get("include_html_head") is True,
        page_metadata=body.get("page_metadata") is True,
        timeout_ms=body.get("per_url_timeout_ms"),
        if_none_match=body.get("if_none_match"),
        if_modified_since=body.get("if_modified_since"),
        validators=body.get("include_etag_and_last_modified") is True,
        highlights=highlights,
        include=include,
        exclude=exclude,
    )


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
        tree = {"type": "document", "title": title, "children": [{"type": "paragraph", "text": text}]}
        return {"text": json.dumps(tree, ensure_ascii=False, separators=(",", ":"))}
    if fmt == "html":
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())
        return {"text": paragraphs}
    return {"text": text if text.endswith("\n") else text + "\n"}


def _with_head(body: str, page: Page) -> str:
    head = f"<title>{html.escape(page.title or '')}</title>"
    if page.description:
        head += f'<meta name="description" content="{html.escape(page.description)}">'
    lang = f' lang="{page.language}"' if page.language else ""
    return f'<!DOCTYPE html><html{lang}><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


def _html_result(doc: Fixture, final_url: str, opts: Options) -> dict[str, Any]:
    source = doc.body.decode("utf-8", "replace")
    page = parse_html(source, final_url)
    result: dict[str, Any] = {}
    if opts.page_metadata:
        result["page_metadata"] = page_metadata(source, final_url)
    for name in ("title", "description", "language", "author", "published_date"):
        value = getattr(page, name)
        if value is not None:
            result[name] = value
    if opts.include or opts.exclude:
        scoped, unmatched = scope(page.root, list(opts.include), list(opts.exclude))
        if scoped is None:
            raise FetchFailure(
                "selector_not_matched: no include_selectors entry matched the page",
                unmatched_selectors=unmatched,
                candidate_selectors=candidates(page.root),
            )
        if unmatched:
            result["unmatched_selectors"] = unmatched
        page = Page(scoped, final_url)
    if opts.links:
        result["links"] = page.links()
    if opts.images:
        result["image_links"] = page.image_links()
    if opts.fmt == "json":
        result["text"] = json.dumps(page.document(), ensure_ascii=False, separators=(",", ":"))
        return result
    text = page.markdown() if opts.fmt == "markdown" else page.html()
    if not text.strip() or text.strip() == f"# {page.title}":
        raise FetchFailure("no extractable content")
    result["text"] = _with_head(text, page) if opts.fmt == "html" and opts.html_head else text
    return result


def _extract(doc: Fixture, url: str, final_url: str, opts: Options) -> dict[str, Any]:
    if doc.status == 403:
        raise FetchFailure("bot protection detected")
    if doc.status >= 400:
        raise FetchFailure(f"fetch failed: HTTP {doc.status}")
    kind = doc.content_type.split(";")[0]
    if kind != "text/html" and (opts.include or opts.exclude):
        raise FetchFailure(f"selector_unsupported: a {kind} document has no HTML to scope")
    result: dict[str, Any] = {"url": url, "final_url": final_url}
    if kind == "text/html":
        result.update(_html_result(doc, final_url, opts))
    elif kind == "application/json":
        result.update(_text_result(json.dumps(json.loads(doc.body), indent=2), opts.fmt))
    elif kind == "application/pdf":
        text = _pdf_text(doc.body)
        if not text:
            raise FetchFailure("no extractable content")
        result.update(_text_result(text, opts.fmt, text.split("\n")[0]))
        result["title"] = text.split("\n")[0]
    elif kind == "text/plain":
        result.update(_text_result(doc.body.decode("utf-8", "replace"), opts.fmt))
    else:
        raise FetchFailure("no extractable content")
    if opts.page_metadata and "page_metadata" not in result:
        result["page_metadata"] = page_metadata("", final_url)
    if opts.links and "links" not in result:
        result["links"] = []
    if opts.images and "image_links" not in result:
        result["image_links"] = []
    result["format"] = opts.fmt
    if opts.highlights is not None:
        result["highlights"] = highlights(
            str(result.get("text") or ""),
            str(opts.highlights["query"]),
            max_snippets=opts.highlights.get("max_snippets") or 5,
            max_characters=opts.highlights.get("max_characters"),
        )
        if opts.highlights.get("include_full_page_text") is not True:
            result.pop("text", None)
    return result


def _validators(doc: Fixture) -> tuple[str, str]:
    """The ETag and Last-Modified a fixture's origin sends (its content's hash, a fixed date)."""
    return f'"{hashlib.sha256(doc.body).hexdigest()[:16]}"', FIXTURE_LAST_MODIFIED


def _unchanged(doc: Fixture, opts: Options) -> bool | None:
    """Whether the caller's validators say the page is unchanged (None: none were sent)."""
    if opts.if_none_match is None and opts.if_modified_since is None:
        return None
    etag, modified = _validators(doc)
    if opts.if_none_match is not None:
        return etag in [tag.strip() for tag in opts.if_none_match.split(",")] or opts.if_none_match == "*"
    try:
        since = parsedate_to_datetime(str(opts.if_modified_since))
    except (TypeError, ValueError):
        return False  # an unparseable date is ignored by origins: the page is sent in full
    return since >= parsedate_to_datetime(modified)


def _conditional(doc: Fixture | None, url: str, final_url: str, opts: Options) -> dict[str, Any] | None:
    """A 304 result when the caller's validators match; also decorates nothing otherwise."""
    if doc is None or _unchanged(doc, opts) is not True:
        return None
    result: dict[str, Any] = {"url": url, "final_url": final_url, "format": opts.fmt, "not_modified": True}
    if opts.validators:
        result["etag"], result["last_modified"] = _validators(doc)
    return result


async def _fetch_one(call: Call, url: str, opts: Options) -> dict[str, Any]:
    started = time.perf_counter()
    if not is_http_url(url):
        raise FetchFailure(DISALLOWED)
    name = _own_fixture(call, url)
    origin: Fixture | None = None  # a document whose origin sends validators
    if name is not None:
        doc = call.store.pages.get(name) or fixture(name)
        final_url = url.split("/_fixtures/")[0] + "/_fixtures/" + doc.name
        limit = FETCH_TIMEOUT_SECONDS
        if opts.timeout_ms is not None:
            limit = min(limit, opts.timeout_ms / 1000)
        if doc.slow:
            await asyncio.sleep(min(limit * call.config.time_scale, fixture_delay(call.config)))
            raise FetchFailure("fetch timeout")
        origin = doc if doc.status == 200 else None
    elif _is_private(urlsplit(url).hostname or ""):
        raise FetchFailure(DISALLOWED)
    else:
        doc, final_url = _synthetic(url), url
    result = _conditional(origin, url, final_url, opts) or _extract(doc, url, final_url, opts)
    asked = opts.validators or opts.if_none_match is not None or opts.if_modified_since is not None
    if asked and origin is None:
        result["conditional_unsupported"] = True  # generated pages carry no validators
    elif asked and origin is not None and "not_modified" not in result:
        result["not_modified"] = False
        if opts.validators:
            result["etag"], result["last_modified"] = _validators(origin)
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def fetch(call: Call) -> Response:
    urls, opts = _validate(await read_json(call.request))
    outcomes = await asyncio.gather(*(_fetch_one(call, url, opts) for url in urls), return_exceptions=True)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for url, outcome in zip(urls, outcomes, strict=True):
        if isinstance(outcome, FetchFailure):
            errors.append({"url": url, "error": str(outcome), **outcome.extra})
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    record_fetches(call, opts.fmt, results, errors)
    return JSONResponse({"results": results, "errors": errors})
