"""Running the hosted app under uvicorn: one process, or one worker per core.

Stateless MCP keeps nothing in a process, so N workers sharing one listening socket
(uvicorn's supervisor passes it to each) serve like N replicas on one machine. Every
worker builds its own app from the environment, so the parent writes the flags it was
given into the environment before the workers start. The parent first builds the app
and runs its start-up and shut-down once itself: a bad setting or an unreachable
database is then one error line before anything listens, and the OAuth tables exist
before the workers race for them.

On SIGTERM each worker drains (``shutdown.py``): ``/readyz`` turns unready, in-flight
calls get ``mcp_shutdown_grace_seconds``, then answer with their run ids, then it exits.

uvloop and httptools are used when installed (``pip install tinyfish-mcp[fast]``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from .. import __version__
from ..settings import ENV_PREFIX, Settings
from .app import create_app
from .security import ConfigError
from .shutdown import graceful_timeout

__all__ = ["DeferredApp", "app_factory", "serve", "worker_count"]

logger = logging.getLogger(__name__)


def worker_count(settings: Settings) -> int:
    """How many worker processes to run: the setting, or one per core when it is 0 (auto).

    Auto means one worker for local development (``auth none``) and for stateful MCP
    sessions, which live in the process that opened them.
    """
    if settings.mcp_workers:
        return settings.mcp_workers
    if settings.mcp_auth == "none" or not settings.mcp_stateless:
        return 1
    return os.cpu_count() or 1


def _check_workers(settings: Settings, workers: int) -> None:
    if workers > 1 and not settings.mcp_stateless:
        raise ConfigError(
            "Stateful MCP sessions live in the worker that opened them, so they cannot be shared by "
            f"{workers} workers on one socket: keep TINYFISH_MCP_STATELESS=true (the default), or run "
            "--workers 1 per replica behind a balancer that routes by Mcp-Session-Id."
        )


class DeferredApp:
    """An ASGI app that builds the hosted app when the server starts.

    uvicorn calls an app factory synchronously in each worker, while building ours is a
    coroutine; so the factory returns this, and the real app is built at the start of the
    lifespan, in the worker's own event loop.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.app is None:
            first = await receive()
            try:
                self.app = await create_app(self.settings, handle_signals=True)
            except ConfigError as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            replay: list[Message] = [first]

            async def replayed() -> Message:
                return replay.pop() if replay else await receive()

            await self.app(scope, replayed, send)
            return
        await self.app(scope, receive, send)


def app_factory() -> DeferredApp:
    """What each uvicorn worker loads: the app for the settings in the environment."""
    settings = Settings()
    if not logging.getLogger().handlers:
        # A spawned worker starts with no logging set up: lines like its parent's.
        from ..logformat import configure_logging

        configure_logging(settings.mcp_log_level, settings.mcp_log_format)
    return DeferredApp(settings)


async def _preflight(settings: Settings) -> None:
    app = await create_app(settings)
    async with app.router.lifespan_context(app):
        pass


def _export(settings: Settings) -> None:
    """Write the settings that differ from the environment's into it, for the workers to read."""
    from_env = Settings()
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None or value == getattr(from_env, name):
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, tuple):
            value = ",".join(value)
        os.environ[ENV_PREFIX + name.upper()] = str(value)


def _share_metrics() -> str | None:
    """Workers write their metrics to files in one directory, and each scrape sums them.

    prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` when it is first imported, so it
    is set before anything loads it; an operator's own directory is kept (and must be
    emptied between runs), else a fresh one is made for this run.
    """
    import tempfile

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    made = tempfile.mkdtemp(prefix="tinyfish-mcp-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return made


def serve(settings: Settings) -> None:
    """Run the hosted server until interrupted (``ConfigError`` for a bad deployment)."""
    import anyio

    workers = worker_count(settings)
    _check_workers(settings, workers)
    made = _share_metrics() if workers > 1 and settings.mcp_metrics_token is not None else None
    anyio.run(_preflight, settings)
    _export(settings)
    logger.info(
        "tinyfish-mcp %s serving %s/mcp (auth: %s, %d worker%s)",
        __version__,
        settings.public_url,
        settings.mcp_auth,
        workers,
        "" if workers == 1 else "s",
    )
    try:
        _run(settings, workers)
    finally:
        if made is not None:
            import shutil

            shutil.rmtree(made, ignore_errors=True)


def _run(settings: Settings, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        f"{__name__}:app_factory",
        factory=True,
        host=settings.mcp_host,
        port=settings.mcp_port,
        workers=workers,
        log_level=settings.mcp_log_level.lower(),
        proxy_headers=True,
        server_header=False,
        # http/access.py writes one line per request (with its id, never the query string).
        access_log=False,
        # JSON: uvicorn's own lines go through the root logger's JSON handler too.
        log_config=None if settings.mcp_log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        # In-flight calls get the grace period, then the time to answer with their run ids.
        timeout_graceful_shutdown=graceful_timeout(settings.mcp_shutdown_grace_seconds),
    )
