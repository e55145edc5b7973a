"""The package's floor plan, read from its source: no import circles, rooms talk through public names.

Imports are read with ``ast`` (every import statement: module level, inside functions,
under ``TYPE_CHECKING``), so a circle hidden behind a lazy import still counts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import tinyfish_mcp

PACKAGE = Path(tinyfish_mcp.__file__).parent
ROOT = "tinyfish_mcp"


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, dotted
    target: str  # the imported module, dotted (a submodule when ``from pkg import submodule``)
    name: str | None  # the name taken from it (None for ``import x`` or a submodule import)
    line: int


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = [ROOT, *path.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


MODULES = _modules()


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports() -> list[Import]:
    """Every import in the package of something else in the package."""
    found: list[Import] = []
    for module, (path, is_package) in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [
                    Import(module, alias.name, None, node.lineno)
                    for alias in node.names
                    if alias.name.split(".")[0] == ROOT
                ]
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(module, is_package, node)
                if target.split(".")[0] != ROOT:
                    continue
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in MODULES:
                        found.append(Import(module, submodule, None, node.lineno))
                    else:
                        found.append(Import(module, target, alias.name, node.lineno))
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_upstream_has_no_import_circle() -> None:
    prefix = f"{ROOT}.upstream"
    graph: dict[str, set[str]] = {}
    for imp in imports():
        if imp.importer.startswith(prefix) and imp.target.startswith(prefix) and imp.importer != imp.target:
            graph.setdefault(imp.importer, set()).add(imp.target)
    assert graph, "no imports read: the parser is broken"
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def _room(module: str) -> str:
    """The package a module belongs to: ``runtime`` for ``tinyfish_mcp.runtime.x``, or the top module."""
    return module.split(".")[1] if module.count(".") else ""


def _private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.startswith("__")  # type: ignore[union-attr]


def crossings() -> set[tuple[str, str]]:
    """(importer, target) where a module takes a private module or name of another package."""
    found: set[tuple[str, str]] = set()
    for imp in imports():
        if _room(imp.importer) == _room(imp.target):
            continue
        inner = imp.target.split(".")[2:]  # below the package itself
        if any(_private(part) for part in inner) or _private(imp.name):
            found.add((imp.importer, imp.target if imp.name is None else f"{imp.target}:{imp.name}"))
    return found


def test_the_crossing_finder_finds_a_private_import() -> None:
    private = Import("tinyfish_mcp.server", "tinyfish_mcp.toolsets._inputs", None, 1)
    assert _room(private.importer) != _room(private.target)
    assert any(_private(part) for part in private.target.split(".")[2:])


def test_packages_import_only_each_others_public_names() -> None:
    assert not crossings(), sorted(crossings())


def test_auth_shares_with_the_tools_through_modules_below_both() -> None:
    """What the auth layer's stores keep for the tools (records, resolvers) lives in
    ``records.py`` and ``callers.py``, so ``auth/`` imports nothing from ``runtime/`` or ``toolsets/``."""
    reaching = sorted(
        f"{imp.importer}:{imp.line} -> {imp.target}"
        for imp in imports()
        if _room(imp.importer) == "auth" and _room(imp.target) in {"runtime", "toolsets"}
    )
    assert not reaching, reaching


def nested_tools(source: str) -> list[str]:
    """Functions defined inside a module's ``register*`` functions: tools hidden in closures."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("register"):
            found += [
                f"{node.name}.{inner.name}"
                for inner in ast.walk(node)
                if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) and inner is not node
            ]
    return found


def test_the_closure_finder_finds_a_tool_inside_register() -> None:
    hidden = "def register(mcp, deps):\n    @mcp.tool()\n    async def get_x() -> str:\n        return ''\n"
    assert nested_tools(hidden) == ["register.get_x"]
    assert nested_tools("def register(mcp, deps):\n    mcp.tool()(Tools(deps).get_x)\n") == []


def test_every_tool_is_a_name_and_registered_in_one_statement() -> None:
    """A tool's function is found by its name: a method of its toolset's class or a module
    function, which ``register`` names; never a closure defined inside ``register``."""
    hidden = {
        f"{path.name}: {name}"
        for path in sorted((PACKAGE / "toolsets").glob("*.py"))
        for name in nested_tools(path.read_text(encoding="utf-8"))
    }
    assert not hidden, sorted(hidden)
