"""Content extraction from HTML with the standard library's ``html.parser``.

The page is parsed into a small element tree; metadata comes from ``<head>`` (title,
description, author, date, language), content from ``<main>``/``<article>``/``<body>``
without navigation, scripts and other chrome. The content is rendered as Markdown,
as cleaned semantic HTML, or as a JSON document tree, the three Fetch formats.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

__all__ = ["Element", "Page", "parse_html"]

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
CHROME = frozenset(
    {
        "script",
        "style",
        "noscript",
        "nav",
        "footer",
        "header",
        "aside",
        "form",
        "svg",
        "iframe",
        "template",
        "button",
    }
)
BLOCKS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "pre",
        "blockquote",
        "table",
        "tr",
        "div",
        "section",
        "article",
        "main",
        "figure",
        "figcaption",
        "hr",
        "dl",
        "dt",
        "dd",
        "body",
    }
)
P_CLOSERS = BLOCKS - {"li", "dt", "dd", "tr", "figcaption", "body"}
KEEP_ATTRS = {"a": ("href", "title"), "img": ("src", "alt"), "td": ("colspan",), "th": ("colspan",)}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def find(self, tag: str) -> Element | None:
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag:
                    return child
                found = child.find(tag)
                if found is not None:
                    return found
        return None

    def find_all(self, tag: str) -> list[Element]:
        found: list[Element] = []
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag:
                    found.append(child)
                found.extend(child.find_all(tag))
        return found

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children if not _is_chrome(c)]
        return _squash("".join(parts))


def _is_chrome(node: Element | str) -> bool:
    return isinstance(node, Element) and node.tag in CHROME


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        # HTML's implied end tags: a block start closes an open <p>, and a new <li>
        # closes the previous item of the same list.
        if tag in P_CLOSERS and self.stack[-1].tag == "p":
            self.stack.pop()
        if tag == "li":
            for depth in range(len(self.stack) - 1, 0, -1):
                if self.stack[depth].tag in ("ul", "ol"):
                    break
                if self.stack[depth].tag == "li":
                    del self.stack[depth:]
                    break
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass
class Page:
    """A parsed HTML page and what the Fetch API reports about it."""

    root: Element
    base_url: str

    # ------------------------------------------------------------------ metadata
    def _meta(self, *names: str) -> str | None:
        for meta in self.root.find_all("meta"):
            key = (meta.attrs.get("name") or meta.attrs.get("property") or "").lower()
            if key in names and meta.attrs.get("content", "").strip():
                return _squash(meta.attrs["content"])
        return None

    @property
    def title(self) -> str | None:
        element = self.root.find("title")
        return (element.text() if element else None) or self._meta("og:title")

    @property
    def description(self) -> str | None:
        return self._meta("description", "og:description")

    @property
    def author(self) -> str | None:
        return self._meta("author", "article:author")

    @property
    def published_date(self) -> str | None:
        found = self._meta("article:published_time", "date", "pubdate")
        if found is None:
            moment = self.root.find("time")
            found = moment.attrs.get("datetime") if moment else None
        return found or None

    @property
    def language(self) -> str | None:
        element = self.root.find("html")
        lang = element.attrs.get("lang", "") if element else ""
        return lang.split("-")[0].lower() or None

    def _absolute(self, url: str) -> str:
        return urljoin(self.base_url, url.strip())

    def links(self) -> list[str]:
        hrefs = (a.attrs.get("href", "") for a in self.root.find_all("a"))
        return list(
            dict.fromkeys(self._absolute(h) for h in hrefs if h and not h.startswith(("#", "javascript:")))
        )

    def image_links(self) -> list[str]:
        sources = (img.attrs.get("src", "") for img in self.root.find_all("img"))
        return list(dict.fromkeys(self._absolute(s) for s in sources if s))

    # ------------------------------------------------------------------ content
    def content(self) -> Element:
        for tag in ("main", "article", "body"):
            element = self.root.find(tag)
            if element is not None:
                return element
        return self.root

    def markdown(self) -> str:
        body = _Markdown(self._absolute).block(self.content())
        title = self.title
        if title and not body.lstrip().startswith("# "):
            body = f"# {title}\n\n{body}"
        return re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"

    def html(self) -> str:
        return _clean_html(self.content(), self._absolute).strip()

    def document(self) -> dict[str, Any]:
        return {"type": "document", "title": self.title, "children": _blocks(self.content(), self._absolute)}


def parse_html(source: str, base_url: str) -> Page:
    builder = _TreeBuilder()
    builder.feed(source)
    builder.close()
    return Page(builder.root, base_url)


class _Markdown:
    def __init__(self, absolute: Any) -> None:
        self.absolute = absolute

    def inline(self, node: Element | str) -> str:
        if isinstance(node, str):
            return re.sub(r"\s+", " ", node)
        if node.tag in CHROME:
            return ""
        inner = "".join(self.inline(c) for c in node.children)
        if node.tag == "a" and node.attrs.get("href"):
            return f"[{_squash(inner)}]({self.absolute(node.attrs['href'])})"
        if node.tag == "img":
            return f"![{node.attrs.get('alt', '')}]({self.absolute(node.attrs.get('src', ''))})"
        if node.tag in ("strong", "b") and inner.strip():
            return f"**{inner.strip()}**"
        if node.tag in ("em", "i") and inner.strip():
            return f"_{inner.strip()}_"
        if node.tag == "code":
            return f"`{inner}`"
        if node.tag == "br":
            return "\n"
        return inner

    def block(self, node: Element) -> str:
        out: list[str] = []
        run: list[Element | str] = []

        def flush() -> None:
            text = _squash("".join(self.inline(c) for c in run))
            if text:
                out.append(text + "\n\n")
            run.clear()

        for child in node.children:
            if isinstance(child, str) or child.tag not in BLOCKS | CHROME:
                run.append(child)
                continue
            flush()
            out.append(self._block_element(child))
        flush()
        return "".join(out)

    def _block_element(self, node: Element) -> str:
        tag = node.tag
        if tag in CHROME:
            return ""
        if re.fullmatch(r"h[1-6]", tag):
            return f"{'#' * int(tag[1])} {_squash(''.join(self.inline(c) for c in node.children))}\n\n"
        if tag == "p":
            text = _squash("".join(self.inline(c) for c in node.children))
            return f"{text}\n\n" if text else ""
        if tag in ("ul", "ol"):
            items = [c for c in node.children if isinstance(c, Element) and c.tag == "li"]
            lines = [
                f"{f'{i}.' if tag == 'ol' else '-'} {_squash(self.block(li).replace(chr(10), ' '))}"
                for i, li in enumerate(items, 1)
            ]
            return "\n".join(lines) + "\n\n"
        if tag == "pre":
            return f"```\n{_raw_text(node).strip(chr(10))}\n```\n\n"
        if tag == "blockquote":
            inner = self.block(node).strip()
            return "\n".join(f"> {line}" if line else ">" for line in inner.splitlines()) + "\n\n"
        if tag == "hr":
            return "---\n\n"
        if tag == "table":
            rows = [
                [_squash(cell.text()) for cell in tr.children if isinstance(cell, Element)]
                for tr in node.find_all("tr")
            ]
            if not rows:
                return ""
            width = max(len(r) for r in rows)
            rows = [r + [""] * (width - len(r)) for r in rows]
            lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
            lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
            return "\n".join(lines) + "\n\n"
        return self.block(node)


def _raw_text(node: Element) -> str:
    return "".join(c if isinstance(c, str) else _raw_text(c) for c in node.children)


def _clean_html(node: Element | str, absolute: Any) -> str:
    """Semantic HTML: chrome removed, presentational wrappers and attributes dropped."""
    if isinstance(node, str):
        return html.escape(node, quote=False)
    if node.tag in CHROME:
        return ""
    inner = "".join(_clean_html(c, absolute) for c in node.children)
    if node.tag in ("div", "span", "section", "body", "main", "article", "#document", "font", "center"):
        return inner
    attrs = ""
    for name in KEEP_ATTRS.get(node.tag, ()):
        if name in node.attrs:
            value = absolute(node.attrs[name]) if name in ("href", "src") else node.attrs[name]
            attrs += f' {name}="{html.escape(value)}"'
    if node.tag in VOID:
        return f"<{node.tag}{attrs}>"
    return f"<{node.tag}{attrs}>{inner}</{node.tag}>"


def _blocks(node: Element, absolute: Any) -> list[dict[str, Any]]:
    """The JSON document tree: typed blocks with plain text."""
    blocks: list[dict[str, Any]] = []
    loose: list[str] = []

    def flush() -> None:
        text = _squash(" ".join(loose))
        if text:
            blocks.append({"type": "paragraph", "text": text})
        loose.clear()

    for child in node.children:
        if isinstance(child, str):
            loose.append(child)
            continue
        tag = child.tag
        if tag in CHROME:
            continue
        if tag not in BLOCKS and tag != "img":
            loose.append(child.text())
            continue
        flush()
        if re.fullmatch(r"h[1-6]", tag):
            blocks.append({"type": "heading", "level": int(tag[1]), "text": child.text()})
        elif tag == "p":
            blocks.append({"type": "paragraph", "text": child.text()})
            blocks.extend(_images(child, absolute))
        elif tag in ("ul", "ol"):
            items = [li.text() for li in child.children if isinstance(li, Element) and li.tag == "li"]
            blocks.append({"type": "list", "ordered": tag == "ol", "items": items})
        elif tag == "pre":
            blocks.append({"type": "code", "text": _raw_text(child).strip("\n")})
        elif tag == "blockquote":
            blocks.append({"type": "quote", "text": child.text()})
        elif tag == "img":
            blocks.extend(_images(Element("#", children=[child]), absolute))
        elif tag == "table":
            rows = [
                [cell.text() for cell in tr.children if isinstance(cell, Element)]
                for tr in child.find_all("tr")
            ]
            blocks.append({"type": "table", "rows": rows})
        elif tag != "hr":
            blocks.extend(_blocks(child, absolute))
    flush()
    return [b for b in blocks if b.get("text") != ""]


def _images(node: Element, absolute: Any) -> list[dict[str, Any]]:
    return [
        {"type": "image", "src": absolute(img.attrs.get("src", "")), "alt": img.attrs.get("alt", "")}
        for img in node.find_all("img")
    ]
