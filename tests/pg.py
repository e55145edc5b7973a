"""A throwaway PostgreSQL cluster for the storage tests, built from the machine's server binaries.

``find_bindir()`` says whether PostgreSQL's server programs are installed (``initdb`` on
PATH, or Debian's ``/usr/lib/postgresql/<version>/bin``); the tests only generate their
``postgres`` cases when it finds them, so nothing is ever skipped.

The ``pg_cluster`` fixture (``tests/conftest.py``) is one such cluster for the session.
``running_cluster()`` makes a cluster in a fresh temporary directory (``initdb``, trust
authentication, no fsync: the data is thrown away), starts it with ``pg_ctl`` listening on
127.0.0.1 only, on a free port, with its unix socket inside that directory, and stops and
deletes it on exit. PostgreSQL refuses to run as root, so under root (as in CI) the server
programs run as Debian's ``postgres`` system user, which then owns the directory.

The tests share one database, emptied before each of them by :meth:`Cluster.empty_database`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from _servers import free_port

__all__ = [
    "DATABASES",
    "SERVER_USER",
    "SUPERUSER",
    "Cluster",
    "PostgresStartError",
    "find_bindir",
    "running_cluster",
]

# The cluster's superuser (a database role; no OS account of that name is needed).
SUPERUSER = "tfmcp"
# The OS account the server programs run as when the tests run as root.
SERVER_USER = "postgres"

_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_INITDB_TIMEOUT = 120.0
_START_TIMEOUT = 30  # pg_ctl's own wait, seconds
_STOP_TIMEOUT = 30
_START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


class PostgresStartError(RuntimeError):
    """The throwaway cluster could not be made or started; the message has the server's output."""


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _complete(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _PROGRAMS)


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None when not installed."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        # Debian links the programs into /usr/local/bin or similar; their siblings live
        # next to the link's target.
        candidates += [Path(on_path).resolve().parent, Path(on_path).parent]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    return next((bindir for bindir in candidates if _complete(bindir)), None)


# The database kinds the storage tests run on: PostgreSQL too where its programs are found.
DATABASES = ["sqlite", "postgres"] if find_bindir() is not None else ["sqlite"]


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    """``argv`` run as ``user`` (we are root then), or as it is when ``user`` is None."""
    if user is None:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *argv]
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *argv]


@dataclass
class Cluster:
    """A running cluster: its programs, directory and port, and how to run its programs."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None  # the OS user the server programs run as; None: the current user
    databases: set[str] = field(default_factory=set)  # created so far

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    # --- programs ------------------------------------------------------------------
    def run(self, program: str, *args: str, timeout: float, what: str) -> None:
        argv = _as_user(self.run_as, [str(self.bindir / program), *args])
        try:
            # The working directory is ours: the server user may not be allowed into the caller's.
            done = subprocess.run(  # noqa: S603 - fixed programs, arguments of our own
                argv, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresStartError(
                f"{what}: `{' '.join(argv)}` did not finish within {timeout:.0f} s.\n"
                f"Server log ({self.log}):\n{_log_tail(self.log)}"
            ) from exc
        if done.returncode != 0:
            raise PostgresStartError(
                f"{what}: `{' '.join(argv)}` exited with {done.returncode}.\n"
                f"stdout: {done.stdout.strip()}\nstderr: {done.stderr.strip()}\n"
                f"Server log ({self.log}):\n{_log_tail(self.log)}"
            )

    # --- life cycle ----------------------------------------------------------------
    def init(self) -> None:
        self.run(
            "initdb",
            "--pgdata", str(self.data),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--no-locale",
            "--no-sync",
            timeout=_INITDB_TIMEOUT,
            what="initdb failed",
        )  # fmt: skip

    def start(self) -> None:
        options = " ".join(
            f"-c {name}={value}"
            for name, value in (
                ("listen_addresses", "127.0.0.1"),
                ("port", self.port),
                ("unix_socket_directories", f"'{self.root}'"),
                # Throwaway data: durability costs time and buys nothing here.
                ("fsync", "off"),
                ("synchronous_commit", "off"),
                ("full_page_writes", "off"),
            )
        )
        self.run(
            "pg_ctl", "start",
            "--pgdata", str(self.data),
            "--log", str(self.log),
            "--wait", "--timeout", str(_START_TIMEOUT),
            "--options", options,
            timeout=_START_TIMEOUT + 15,
            what=f"PostgreSQL did not start on 127.0.0.1:{self.port}",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server however it can be stopped; never raises (teardown must go on)."""
        if not (self.data / "postmaster.pid").exists():
            return
        with contextlib.suppress(PostgresStartError, OSError):
            self.run(
                "pg_ctl", "stop", "--pgdata", str(self.data), "--mode", "immediate",
                "--wait", "--timeout", str(_STOP_TIMEOUT),
                timeout=_STOP_TIMEOUT + 15, what="pg_ctl stop failed",
            )  # fmt: skip
            return
        # pg_ctl could not do it: kill the postmaster named in its pid file (its children follow).
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    # --- databases -----------------------------------------------------------------
    async def _connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database=database, timeout=10
        )

    async def empty_database(self, name: str) -> None:
        """Make ``name`` as new: no connections, no tables (10 ms, against 200 for CREATE DATABASE)."""
        if name not in self.databases:
            conn = await self._connect("postgres")
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            self.databases.add(name)
            return
        conn = await self._connect(name)
        try:
            # Connections a failed test left open would hold locks on the tables.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await conn.execute("SET lock_timeout = '10s'")
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()


def _server_user() -> str | None:
    """Whom the server programs run as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresStartError(
            f"Running as root, and PostgreSQL refuses to run as root, but there is no "
            f"{SERVER_USER!r} system user to run it as (Debian's postgresql package creates one)."
        ) from None
    return SERVER_USER


def _make_root(run_as: str | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="tfmcp-pg-"))
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        # The server user must also be able to reach the directory through its parents.
        probe = _as_user(run_as, ["test", "-w", str(root)])
        if subprocess.run(probe, cwd=root, check=False, timeout=30).returncode != 0:  # noqa: S603
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresStartError(
                f"The {run_as!r} user cannot write to {root}; point TMPDIR at a directory it can reach."
            )
    return root


@contextlib.contextmanager
def running_cluster(bindir: Path | None = None) -> Iterator[Cluster]:
    """Start a throwaway cluster; stop it and delete its directory afterwards."""
    bindir = bindir or find_bindir()
    if bindir is None:
        raise PostgresStartError("No PostgreSQL server programs (initdb, pg_ctl, postgres) were found.")
    run_as = _server_user()
    root = _make_root(run_as)
    cluster = Cluster(bindir, root, free_port(), run_as)
    try:
        cluster.init()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                cluster.start()
                break
            except PostgresStartError:
                in_use = "could not bind" in _log_tail(cluster.log)
                cluster.stop()
                if attempt == _START_ATTEMPTS or not in_use:
                    raise
                cluster.port = free_port()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
