"""Build, check and install the package the way a user gets it, then smoke-test the install.

1. ``python -m build``: the sdist and the wheel, into a temporary directory;
2. ``twine check``: the metadata PyPI would render (README, classifiers);
3. the wheel installed into a fresh virtual environment (its dependencies from the index);
4. ``.ci/smoke.py`` run by that environment's Python from outside the checkout.

Run by ``.ci/run`` with the CI environment's interpreter (which has ``build`` and ``twine``
from the ``dev`` extra). ``--keep DIR`` leaves the built files in DIR.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path | None = None) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], cwd=cwd, check=True)  # noqa: S603 - our own commands


def check_contents(wheel: Path, sdist: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for needed in (
        "tinyfish_mcp/__init__.py",
        "tinyfish_mcp/emulator/data/article.html",
        "tinyfish_mcp/emulator/data/search_corpus.json",
        "tinyfish_mcp/pipeline/schemas.json",
    ):
        if needed not in names:
            raise SystemExit(f"package: {needed} is missing from {wheel.name}")
    if any(name.startswith("tests/") for name in names):
        raise SystemExit(f"package: {wheel.name} ships the tests")
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "tinyfish_mcp/emulator/data/article.html"):
        if needed not in members:
            raise SystemExit(f"package: {needed} is missing from {sdist.name}")
    print(f"package: {wheel.name} ({len(names)} files) and {sdist.name} have what they need")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="leave the built sdist and wheel in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinyfish-package-") as tmp:
        work = Path(tmp)
        dist = work / "dist"
        run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT)
        (wheel,) = dist.glob("*.whl")
        (sdist,) = dist.glob("*.tar.gz")
        run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
        check_contents(wheel, sdist)
        version = wheel.name.split("-")[1]
        venv = work / "venv"
        run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
        smoke = work / "smoke.py"
        shutil.copy(ROOT / ".ci" / "smoke.py", smoke)
        # From the temporary directory: the checkout is not on sys.path there.
        run(python, smoke, version, cwd=work)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for built in (wheel, sdist):
                shutil.copy(built, args.keep / built.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
