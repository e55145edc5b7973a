"""CSS selector scoping and query-ranked highlights for the Fetch API.

Selectors: the simple CSS a caller scopes extraction with: type (``main``), class
(``.post``), id (``#content``), attribute (``[role]``, ``[role="main"]``) and their
compounds, joined by descendant (space) or child (``>``) combinators, comma-grouped.
``exclude_selectors`` prune the page first; ``include_selectors`` then keep only what
they match, verbatim (boilerplate removal is bypassed, so ``nav`` inside a selection
stays). Anything else is invalid CSS, refused for the whole request.

Highlights: the markdown split into passages (paragraphs, list items, table rows),
scored by query terms (rarer terms weigh more, a phrase match more still), the best
``max_snippets`` returned verbatim with rank 1 first, within ``max_characters``.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass

from .extract import Element

__all__ = ["InvalidSelector", "Selector", "candidates", "highlights", "scope"]

_COMPOUND = re.compile(
    r"(?P<tag>\*|[a-zA-Z][\w-]*)?(?P<rest>(?:\.[\w-]+|#[\w-]+|\[[\w-]+(?:=\"[^\"]*\"|='[^']*'|=[\w-]+)?\])*)"
)
_PART = re.compile(r"\.([\w-]+)|#([\w-]+)|\[([\w-]+)(?:=(?:\"([^\"]*)\"|'([^']*)'|([\w-]+)))?\]")
# Tags renamed when selected, so the renderer keeps them (selected content is verbatim).
_KEEP_SELECTED = {"nav": "section", "header": "section", "footer": "section", "aside": "section"}


class InvalidSelector(ValueError):
    """A selector this CSS subset cannot parse (the API answers 422)."""


@dataclass(frozen=True)
class _Simple:
    tag: str | None
    classes: tuple[str, ...]
    ids: tuple[str, ...]
    attrs: tuple[tuple[str, str | None], ...]

    def matches(self, element: Element) -> bool:
        if self.tag not in (None, "*") and element.tag != self.tag.lower():
            return False
        classes = element.attrs.get("class", "").split()
        if any(c not in classes for c in self.classes):
            return False
        if any(element.attrs.get("id") != i for i in self.ids):
            return False
        return all(
            name in element.attrs and (value is None or element.attrs[name] == value)
            for name, value in self.attrs
        )


def _compound(text: str, source: str) -> _Simple:
    found = _COMPOUND.fullmatch(text)
    if not text or found is None:
        raise InvalidSelector(f"invalid CSS selector {source!r}")
    classes, ids, attrs = [], [], []
    for part in _PART.finditer(found.group("rest")):
        if part.group(1):
            classes.append(part.group(1))
        elif part.group(2):
            ids.append(part.group(2))
        else:
            value = part.group(4) if part.group(4) is not None else part.group(5)
            attrs.append((part.group(3), value if value is not None else part.group(6)))
    return _Simple(found.group("tag"), tuple(classes), tuple(ids), tuple(attrs))


class Selector:
    """One selector entry (possibly comma-grouped)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.chains: list[list[tuple[str, _Simple]]] = []
        for group in source.split(","):
            tokens = re.findall(r">|[^\s>]+", group.strip())
            if not tokens or tokens[0] == ">" or tokens[-1] == ">":
                raise InvalidSelector(f"invalid CSS selector {source!r}")
            chain: list[tuple[str, _Simple]] = []
            combinator = " "
            for token in tokens:
                if token == ">":  # noqa: S105 - a CSS combinator, not a secret
                    if combinator == ">":
                        raise InvalidSelector(f"invalid CSS selector {source!r}")
                    combinator = ">"
                    continue
                chain.append((combinator, _compound(token, source)))
                combinator = " "
            self.chains.append(chain)

    def matches(self, element: Element, ancestors: list[Element]) -> bool:
        return any(_chain_matches(chain, element, ancestors) for chain in self.chains)


def _chain_matches(chain: list[tuple[str, _Simple]], element: Element, ancestors: list[Element]) -> bool:
    *rest, (combinator, last) = chain
    if not last.matches(element):
        return False
    if not rest:
        return True
    if combinator == ">":
        return bool(ancestors) and _chain_matches(rest, ancestors[-1], ancestors[:-1])
    return any(_chain_matches(rest, ancestors[i], ancestors[:i]) for i in range(len(ancestors) - 1, -1, -1))


def _walk(node: Element, ancestors: list[Element]) -> list[tuple[Element, list[Element]]]:
    found: list[tuple[Element, list[Element]]] = []
    for child in node.children:
        if isinstance(child, Element):
            found.append((child, ancestors))
            found.extend(_walk(child, [*ancestors, child]))
    return found


def _prune(node: Element, selectors: list[Selector], ancestors: list[Element], hits: set[str]) -> None:
    kept: list[Element | str] = []
    for child in node.children:
        if isinstance(child, Element):
            matched = [s for s in selectors if s.matches(child, ancestors)]
            if matched:
                hits.update(s.source for s in matched)
                continue
            _prune(child, selectors, [*ancestors, child], hits)
        kept.append(child)
    node.children = kept


def _unchrome(node: Element) -> Element:
    node.tag = _KEEP_SELECTED.get(node.tag, node.tag)
    for child in node.children:
        if isinstance(child, Element):
            _unchrome(child)
    return node


def scope(
    root: Element, include: list[Selector], exclude: list[Selector]
) -> tuple[Element | None, list[str]]:
    """The scoped document (None when no include selector matched) and the unmatched entries."""
    root = copy.deepcopy(root)
    hits: set[str] = set()
    if exclude:
        _prune(root, exclude, [], hits)
    if not include:
        return root, [s.source for s in exclude if s.source not in hits]
    selected: list[Element] = []
    chosen: set[int] = set()
    for element, ancestors in _walk(root, []):
        if any(id(a) in chosen for a in ancestors):
            continue  # already inside a selected element
        matched = [s for s in include if s.matches(element, ancestors)]
        if matched:
            hits.update(s.source for s in matched)
            selected.append(element)
            chosen.add(id(element))
    unmatched = [s.source for s in [*include, *exclude] if s.source not in hits]
    if not selected:
        return None, unmatched
    head = root.find("head") or Element("head")
    html = Element("html", dict((root.find("html") or Element("html")).attrs))
    html.children = [head, Element("main", children=[_unchrome(copy.deepcopy(e)) for e in selected])]
    return Element("#document", children=[html]), unmatched


def candidates(root: Element, limit: int = 10) -> list[str]:
    """Selectors that do match something on the page, to suggest after a miss."""
    found: dict[str, None] = {}
    for element, _ in _walk(root, []):
        if element.tag in ("main", "article", "section", "table", "ul", "ol"):
            found[element.tag] = None
        if element.attrs.get("id"):
            found[f"#{element.attrs['id']}"] = None
        for name in element.attrs.get("class", "").split():
            found[f".{name}"] = None
    return list(found)[:limit]


def _terms(text: str) -> list[str]:
    """Words of ``text`` (link targets left out), with a plural ``s`` folded away."""
    text = re.sub(r"\]\([^)]*\)", "]", text.lower())
    words = [t for t in re.findall(r"\w+", text) if len(t) > 1 or not t.isascii()]
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def _passages(markdown: str) -> list[str]:
    parts: list[str] = []
    for block in re.split(r"\n\s*\n", markdown):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines and all(re.match(r"([-*]|\d+\.|\|)\s?", line) for line in lines):
            parts.extend(line for line in lines if not re.fullmatch(r"\|[\s|-]*\|?", line))
        elif lines:
            parts.append(" ".join(lines))
    return [p for p in parts if not p.startswith("```")]


def highlights(
    markdown: str, query: str, *, max_snippets: int = 5, max_characters: int | None = None
) -> list[dict[str, object]]:
    """The passages of ``markdown`` that best answer ``query``, best first."""
    passages = _passages(markdown)
    terms = list(dict.fromkeys(_terms(query)))
    if not passages or not terms:
        return []
    bags = [_terms(p) for p in passages]
    weight = {t: math.log(1 + len(bags) / (1 + sum(t in bag for bag in bags))) for t in terms}
    phrase = " ".join(terms)
    scored: list[tuple[float, int]] = []
    for index, bag in enumerate(bags):
        score = sum(weight[t] * (1 + math.log(bag.count(t))) for t in terms if t in bag)
        if len(terms) > 1 and phrase in " ".join(bag):
            score *= 1.5
        if score > 0:
            scored.append((score / math.sqrt(1 + len(bag) / 40), index))
    scored.sort(key=lambda item: (-item[0], item[1]))
    snippets: list[dict[str, object]] = []
    budget = max_characters
    for _, index in scored[:max_snippets]:
        text = passages[index]
        if budget is not None:
            if budget <= 0:
                break
            text = text[:budget]
            budget -= len(text)
        snippets.append({"text": text, "rank": len(snippets) + 1})
    return snippets
