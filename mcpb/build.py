"""Build the Claude Desktop bundle ``tinyfish-mcp-<version>.mcpb`` from this checkout.

    python mcpb/build.py                      # -> dist/tinyfish-mcp-<version>.mcpb
    python mcpb/build.py --out DIR --check    # CI: validate, pack, unpack and inspect

The bundle is a ``uv`` bundle (MCPB manifest 0.4): it carries our source and
``pyproject.toml``, and Claude Desktop installs Python and the dependencies with uv on the
user's machine, so one file serves macOS, Windows and Linux. The API key is a
``user_config`` field marked sensitive: Claude Desktop asks for it at install time and
keeps it in the OS keychain.

Packing uses the official ``mcpb`` tool (``npm install -g @anthropic-ai/mcpb``, or
``--mcpb PATH``); without it the bundle is zipped here (the format is a zip file with
``manifest.json`` at its root). ``--check`` needs the tool: it runs ``mcpb validate``,
packs, unpacks the result with ``mcpb unpack`` and checks what is inside.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "mcpb" / "manifest.json"
TOP_FILES = ("pyproject.toml", "README.md", "LICENSE")
MUST_HAVE = (
    "manifest.json",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "tinyfish_mcp/__init__.py",
    "tinyfish_mcp/__main__.py",
    "tinyfish_mcp/emulator/data/article.html",
    "tinyfish_mcp/emulator/data/search_corpus.json",
)


def package_version() -> str:
    text = (ROOT / "tinyfish_mcp" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise SystemExit("mcpb: no __version__ in tinyfish_mcp/__init__.py")
    return match.group(1)


def stage(directory: Path) -> dict[str, object]:
    """Copy what the bundle carries into ``directory``; returns the manifest."""
    manifest = json.loads(MANIFEST.read_text())
    version = package_version()
    if manifest["version"] != version:
        raise SystemExit(f"mcpb: manifest.json says {manifest['version']}, the package is {version}")
    shutil.copy(MANIFEST, directory / "manifest.json")
    for name in TOP_FILES:
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(
        ROOT / "tinyfish_mcp",
        directory / "tinyfish_mcp",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.db"),
    )
    return dict(manifest)


def _zip(source: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(source).as_posix())


def _mcpb(tool: str | None, *args: str | Path) -> str:
    assert tool is not None
    done = subprocess.run(  # noqa: S603 - the mcpb tool the caller named
        [tool, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"mcpb {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def check(tool: str | None, bundle: Path, manifest: dict[str, object], work: Path) -> None:
    """Unpack ``bundle`` with the official tool and check its content."""
    unpacked = work / "unpacked"
    _mcpb(tool, "unpack", bundle, unpacked)
    names = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    missing = [name for name in MUST_HAVE if name not in names]
    if missing:
        raise SystemExit(f"mcpb: the bundle lacks {', '.join(missing)}")
    stray = sorted(
        n for n in names if n.startswith(("tests/", ".")) or "__pycache__" in n or n.endswith(".pyc")
    )
    if stray:
        raise SystemExit(f"mcpb: the bundle carries files it should not: {', '.join(stray[:5])}")
    if json.loads((unpacked / "manifest.json").read_text()) != manifest:
        raise SystemExit("mcpb: the bundle's manifest.json differs from mcpb/manifest.json")
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tinyfish_mcp").rglob("*.py")}
    if not sources <= names:
        raise SystemExit(f"mcpb: the bundle lacks {', '.join(sorted(sources - names)[:5])}")
    # The unpacked code starts: the version flag of the bundled package.
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    done = subprocess.run(
        [sys.executable, "-m", "tinyfish_mcp", "--version"],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    expected = f"tinyfish-mcp {manifest['version']}"
    if done.stdout.strip() != expected:
        raise SystemExit(f"mcpb: the unpacked bundle says {done.stdout!r} {done.stderr!r}, not {expected!r}")
    print(
        f"mcpb: {bundle.name}: {len(names)} files, manifest and content checked, `{expected}` from the bundle"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the tinyfish-mcp .mcpb bundle.")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist", help="where to write the bundle (default dist/)"
    )
    parser.add_argument("--mcpb", help="the mcpb command (default: mcpb on PATH)")
    parser.add_argument("--check", action="store_true", help="validate, then unpack the bundle and check it")
    args = parser.parse_args()
    tool = args.mcpb or shutil.which("mcpb")
    if args.check and tool is None:
        raise SystemExit("mcpb: --check needs the mcpb tool (npm install @anthropic-ai/mcpb)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tinyfish-mcpb-") as tmp:
        work = Path(tmp)
        staged = work / "bundle"
        staged.mkdir()
        manifest = stage(staged)
        bundle = args.out / f"tinyfish-mcp-{manifest['version']}.mcpb"
        if tool is not None:
            print(_mcpb(tool, "validate", staged / "manifest.json").strip())
            _mcpb(tool, "pack", staged, bundle)
        else:
            _zip(staged, bundle)
        print(f"mcpb: wrote {bundle} ({bundle.stat().st_size // 1024} KB)")
        if args.check:
            check(tool, bundle, manifest, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
