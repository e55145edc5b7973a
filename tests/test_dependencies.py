"""pyproject.toml declares what the package imports, and nothing it does not use.

Every import statement of ``tinyfish_mcp`` is read with ``ast`` (lazy ones included); each
third-party top-level module is mapped to the distributions that install it
(``importlib.metadata.packages_distributions``), and one of them must be a runtime
requirement: ``[project.dependencies]`` or an extra that the running server uses
(never the test, dev or bench extras).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

import tinyfish_mcp

PACKAGE = Path(tinyfish_mcp.__file__).parent
PYPROJECT = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
# Extras that add to the running server (the others serve tests, development and benchmarks).
RUNTIME_EXTRAS = ("postgres", "redis", "fast", "browserbase")
# Requirements that are used without an import statement of ours, and why.
USED_WITHOUT_IMPORT = {
    "aiosqlite": "SQLAlchemy loads it for a sqlite+aiosqlite:// database URL",
    "asyncpg": "SQLAlchemy loads it for a postgresql+asyncpg:// database URL",
    "sniffio": "httpcore looks for it on every request",
    "uvloop": "uvicorn picks it up when installed",
    "httptools": "uvicorn picks it up when installed",
    "lxml-html-clean": "justext (under trafilatura) needs lxml's separate HTML cleaner",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    requirements = list(PYPROJECT["project"]["dependencies"])
    for extra in RUNTIME_EXTRAS:
        requirements += PYPROJECT["project"]["optional-dependencies"][extra]
    return {_normal(Requirement(text).name) for text in requirements}


def _imported_modules() -> dict[str, str]:
    """Third-party top-level module -> one file that imports it."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "tinyfish_mcp" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(PACKAGE.parent)))
    return found


def test_every_imported_module_is_a_declared_requirement() -> None:
    modules = _imported_modules()
    assert "pydantic" in modules and "mcp" in modules, "the import reader found nothing"
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    undeclared = {
        f"{module} (imported by {where}; installed by {distributions.get(module)})"
        for module, where in modules.items()
        if not {_normal(d) for d in distributions.get(module, [module])} & declared
    }
    assert not undeclared, sorted(undeclared)


def test_every_runtime_requirement_is_used() -> None:
    distributions = importlib.metadata.packages_distributions()
    imported = {
        _normal(dist) for module in _imported_modules() for dist in distributions.get(module, [module])
    }
    unused = _declared() - imported - set(USED_WITHOUT_IMPORT)
    assert not unused, sorted(unused)
    stale = set(USED_WITHOUT_IMPORT) - _declared()
    assert not stale, f"no longer declared: {sorted(stale)}"


def test_authlib_serves_only_the_tests() -> None:
    """The OAuth tests' PKCE helper uses authlib; the server itself does not."""
    test_extra = {
        _normal(Requirement(text).name) for text in PYPROJECT["project"]["optional-dependencies"]["test"]
    }
    assert "authlib" in test_extra
    assert "authlib" not in _declared()
