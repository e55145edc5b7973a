"""The documentation holds together: every relative link and anchor resolves, and the README stays short.

Links are checked as GitHub renders them: a relative link names a file or folder of the
repository, and a ``#fragment`` names a heading of the target Markdown file by its slug
(lowercased, punctuation other than ``-`` and ``_`` dropped, spaces turned into ``-``,
a repeated heading suffixed ``-1``, ``-2``, ...). Links with a scheme (``https:``,
``cursor:``, ``vscode:``) leave the repository and are not followed. Text inside fenced
code blocks and inline code is not Markdown, so it is not read for links or headings.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "manifests" / "README.md", *(ROOT / "docs").glob("*.md")])
GUIDES = (
    "tools",
    "tasks",
    "install",
    "sandbox",
    "hosting",
    "settings",
    "security",
    "performance",
    "architecture",
    "contributing",
)

README_MAX_LINES = 250
README_MAX_LINE_CHARS = 200

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the target ends at the first space or closing parenthesis.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The (number, line) pairs outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading's text (before the suffix of a repeated one)."""
    text = _INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text stays, its target goes
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a Markdown document, repeated headings numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(text):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[tuple[int, str]]:
    """The (line number, target) of every Markdown link outside code."""
    found = []
    for number, line in prose_lines(text):
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            found.append((number, match.group(1)))
    return found


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """Each link of ``document`` (in the repository at ``root``) that does not resolve, with why."""
    problems = []
    for number, target in links(document.read_text()):
        if _SCHEME.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        where = f"{document.relative_to(root)}:{number}: {target}"
        file = (document.parent / unquote(path_part)).resolve() if path_part else document
        if not file.is_relative_to(root):
            problems.append(f"{where} leaves the repository")
            continue
        if not file.exists():
            problems.append(f"{where} names a missing file")
            continue
        if fragment:
            if file.suffix != ".md":
                problems.append(f"{where} has an anchor into a file that is not Markdown")
            elif unquote(fragment) not in anchors(file.read_text()):
                problems.append(f"{where} names no heading of {file.relative_to(root)}")
    return problems


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(document: Path) -> None:
    assert links(document.read_text()), f"{document.relative_to(ROOT)} links nowhere: is the parser broken?"
    assert broken_links(document) == []


def test_the_guides_exist_and_the_readme_links_each() -> None:
    readme = {target.partition("#")[0] for _, target in links((ROOT / "README.md").read_text())}
    for guide in GUIDES:
        assert (ROOT / "docs" / f"{guide}.md").is_file(), guide
        assert f"docs/{guide}.md" in readme, f"the README does not link docs/{guide}.md"


def test_the_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    long = [
        number
        for number, line in prose_lines(text)
        if len(line) > README_MAX_LINE_CHARS and not line.lstrip().startswith("|")
    ]
    assert long == [], f"README lines over {README_MAX_LINE_CHARS} characters outside tables and code: {long}"


def test_the_checker_catches_what_it_should(tmp_path: Path) -> None:
    # The rules themselves, on text made to break them.
    assert slug("Health, readiness and shutdown") == "health-readiness-and-shutdown"
    assert slug("Replicas on PostgreSQL, with Redis for the rate limits") == (
        "replicas-on-postgresql-with-redis-for-the-rate-limits"
    )
    assert slug("Using `tinyfish-mcp install`") == "using-tinyfish-mcp-install"
    assert slug("The write_web_goal prompt") == "the-write_web_goal-prompt"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n## A\n") == {"a", "a-1", "a-2"}
    in_code = "see `[x](nowhere.md)` and\n```\n[y](gone.md)\n```\n[z](here.md#top)"
    assert links(in_code) == [(5, "here.md#top")]
    (tmp_path / "docs").mkdir()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "proxy.cfg").write_text("")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n## Part\n"
        "[ok](#part) [ok](page.md#page) [ok](../deploy/proxy.cfg) [web](https://example.com/#x)\n"
        "[gone](missing.md) [bad](#nowhere) [bad](page.md#part-1)\n"
        "[out](../../x.md) [cfg](../deploy/proxy.cfg#a)\n"
    )
    problems = broken_links(page, root=tmp_path)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "missing.md names a missing file",
        "#nowhere names no heading of docs/page.md",
        "page.md#part-1 names no heading of docs/page.md",
        "../../x.md leaves the repository",
        "../deploy/proxy.cfg#a has an anchor into a file that is not Markdown",
    ]
