"""``upstream.models`` loads its payload modules on first use; its three lists of names agree.

The package names each public name three times: imported under ``TYPE_CHECKING`` (for the
type checkers), in the map of lazy names (for ``__getattr__``) and in ``__all__``. A name
added to one and not the others would fail only at the first call that reads it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from tinyfish_mcp.upstream import models

SOURCE = Path(models.__file__).read_text(encoding="utf-8")


def _type_checking_names() -> dict[str, str]:
    """name -> submodule, as the ``if TYPE_CHECKING:`` block imports them."""
    names: dict[str, str] = {}
    for node in ast.parse(SOURCE).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imported in node.body:
                assert isinstance(imported, ast.ImportFrom) and imported.module is not None
                names.update(dict.fromkeys((alias.name for alias in imported.names), imported.module))
    return names


def test_the_lazy_map_the_type_checking_imports_and_all_name_the_same_things() -> None:
    lazy = models._SUBMODULE
    assert _type_checking_names() == lazy
    eager = {"PROXY_COUNTRIES", "TERMINAL_STATUSES"}
    assert set(models.__all__) == set(lazy) | eager


def test_every_lazy_name_is_its_submodules_own() -> None:
    for name, submodule in models._SUBMODULE.items():
        own = getattr(importlib.import_module(f"{models.__name__}.{submodule}"), name)
        assert getattr(models, name) is own, name
