"""The one settings object of the process, read once from the environment.

Every tunable lives here: upstream routing and timeouts, retry bounds, the MCP
call window, toolsets, and the HTTP/OAuth deployment settings. Environment
variables use the ``TINYFISH_`` prefix (``TINYFISH_API_KEY``,
``TINYFISH_MCP_TOOLSETS``, ...; a field with a string ``validation_alias`` is read from
that variable instead), matched without regard to case; values given to the
constructor win over the environment. Secrets are ``SecretStr`` so that printing or
logging the settings never shows them.

The environment is read by a few lines here rather than by pydantic-settings: the
stdio server's cold start is a product figure, and that library (with python-dotenv)
cost about a tenth of it. Validation and its errors are pydantic's, as before.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

__all__ = [
    "DEFAULT_AGENT_BASE_URL",
    "DEFAULT_FETCH_BASE_URL",
    "DEFAULT_SEARCH_BASE_URL",
    "DEFAULT_TOOLSETS",
    "HOSTED_PRESET",
    "HOSTED_TOOLSETS",
    "TOOLSETS",
    "Product",
    "Settings",
    "Surface",
    "Toolset",
    "default_state_dir",
]

# Production hosts, as the official SDK routes them when no base URL is given:
# agent, runs, browser, vault and usage live on the agent host under /v1/...,
# while Fetch and Search have their own hosts that serve the API at the root.
DEFAULT_AGENT_BASE_URL = "https://agent.tinyfish.ai"
DEFAULT_FETCH_BASE_URL = "https://api.fetch.tinyfish.ai"
DEFAULT_SEARCH_BASE_URL = "https://api.search.tinyfish.ai"

Product = Literal[
    "automation", "runs", "fetch", "search", "browser", "vault",
    "wallet", "monitors", "research-run", "profiles", "datasets",
]  # fmt: skip
Toolset = Literal[
    "agent", "runs", "fetch", "search", "browser", "vault",
    "wallet", "monitors", "research", "profiles", "datasets", "usage", "guide",
]  # fmt: skip
TOOLSETS: tuple[Toolset, ...] = (
    "agent", "runs", "fetch", "search", "browser", "vault",
    "wallet", "monitors", "research", "profiles", "datasets", "usage", "guide",
)  # fmt: skip
# The larger product toolsets (monitors, ...) are opt-in: tools/list is sent to the model on
# every turn and the default list keeps within its 20 KB budget (see docs/tools.md, "Toolsets").
DEFAULT_TOOLSETS: tuple[Toolset, ...] = ("agent", "runs", "fetch", "search", "browser", "vault", "wallet")
# ``--toolsets hosted``: the tools of TinyFish's hosted MCP server, and no others (see
# ``runtime/surface.py``). These toolsets hold them; the tools they add beyond it are left out.
HOSTED_PRESET = "hosted"
HOSTED_TOOLSETS: tuple[Toolset, ...] = (
    "agent", "runs", "fetch", "search", "browser", "wallet", "monitors", "profiles", "usage", "guide",
)  # fmt: skip
Surface = Literal["toolsets", "hosted"]

AuthMode = Literal["oauth", "jwt", "none"]
Provider = Literal["tinyfish", "browserbase"]


ENV_PREFIX = "TINYFISH_"


def environment_values(model: type[BaseModel], environ: dict[str, str] | None = None) -> dict[str, str]:
    """The raw values of ``model``'s fields found in the environment, keyed by field name."""
    source = os.environ if environ is None else environ
    upper = {name.upper(): value for name, value in source.items()}
    found: dict[str, str] = {}
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        variable = alias if isinstance(alias, str) else ENV_PREFIX + name
        value = upper.get(variable.upper())
        if value is not None:
            found[name] = value
    return found


def default_state_dir() -> Path:
    """The platform's usual place for an application's state, for tinyfish-mcp."""
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "tinyfish-mcp"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "tinyfish-mcp"
    xdg = os.environ.get("XDG_STATE_HOME", "").strip()
    # The XDG spec ignores a relative path.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "state"
    return base / "tinyfish-mcp"


def _toolset_items(value: object) -> list[str] | None:
    """The toolset names in a comma-separated string or a sequence, lower case; None for anything else."""
    if isinstance(value, str):
        return [part.strip().lower() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return [item.strip().lower() for item in value]
    return None


class Settings(BaseModel):
    """All configuration of tinyfish-mcp. Build it once (``Settings()``) and pass it down."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**environment_values(type(self)), **values})

    # --- upstream ------------------------------------------------------------
    api_key: SecretStr | None = Field(default=None, description="TinyFish API key (stdio and jwt mode).")
    base_url: str | None = Field(
        default=None,
        description="One base URL for every product ({base}/v1/...); unset means the production hosts.",
    )
    sandbox: bool = Field(
        default=False,
        description="Serve against the built-in emulator of the TinyFish API (--sandbox): no key needed.",
    )

    # Per-product timeouts (seconds), from the documents' latency table.
    search_timeout: float = Field(default=15.0, gt=0)
    fetch_timeout: float = Field(default=120.0, gt=0)
    browser_timeout: float = Field(default=60.0, gt=0)
    # A synchronous run may take the whole 10-minute run limit, plus queueing.
    run_timeout: float = Field(default=720.0, gt=0)
    default_timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)

    # Retries: connection failures, 429 and 5xx; never a blind re-send of a run creation.
    max_retries: int = Field(default=3, ge=0, le=10)
    retry_initial_backoff: float = Field(default=0.5, ge=0)
    retry_max_backoff: float = Field(default=8.0, ge=0)
    # The Search API asks callers to back off from about 15 s on 429.
    search_rate_limit_backoff: float = Field(default=15.0, ge=0)
    retry_max_total_wait: float = Field(default=30.0, ge=0)

    # --- MCP server ----------------------------------------------------------
    mcp_toolsets: tuple[Toolset, ...] = Field(default=DEFAULT_TOOLSETS)
    # "hosted" when mcp_toolsets was given as the hosted preset: only the hosted server's tools.
    mcp_surface: Surface = "toolsets"
    mcp_call_window: float = Field(
        default=50.0,
        gt=0,
        le=600,
        description="Default seconds a run tool waits before returning RUNNING (max_wait_seconds).",
    )
    mcp_cancel_on_disconnect: bool = Field(
        default=True, description="Cancel the upstream run when the client cancels the tool call."
    )
    mcp_poll_initial: float = Field(default=1.0, gt=0, description="First poll interval when polling a run.")
    mcp_poll_max: float = Field(default=5.0, gt=0, description="Largest poll interval when polling a run.")
    mcp_max_result_chars: int = Field(default=20_000, ge=1000)
    mcp_browser_default_timeout: int = Field(default=300, ge=5, le=86400)
    # The live-view app (MCP Apps): the origins it may frame and connect to. Unset: TinyFish's
    # live-view hosts (tinyfish_mcp/apps/live_view.py) plus the sandbox's or base_url's own origin.
    mcp_app_frame_domains: tuple[str, ...] | None = Field(
        default=None,
        description="Origins the live view may show in a frame (run streaming_url, session inspector, "
        "profile viewer); where a host refuses the frame, the app shows a link.",
    )
    mcp_app_connect_domains: tuple[str, ...] | None = Field(
        default=None, description="Origins the live view may connect to (the inspector's websocket)."
    )
    mcp_elicitation_timeout: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="Seconds a question to the user (sign in to a profile, top up credits) waits for an "
        "answer; then the call returns what to do next.",
    )
    # One deadline per tool call, attempts and waits included (clients give up near 60 s).
    # The run tools' deadline is their call window (max_wait_seconds / mcp_call_window).
    mcp_read_deadline: float = Field(
        default=25.0, gt=0, le=600, description="Deadline of get_run, list_runs and the other reads."
    )
    mcp_create_deadline: float = Field(
        default=30.0, gt=0, le=600, description="Deadline of the async, batch and browser-session creates."
    )
    mcp_search_deadline: float = Field(default=30.0, gt=0, le=600, description="Deadline of a search.")
    mcp_fetch_deadline: float = Field(default=55.0, gt=0, le=600, description="Deadline of fetch_content.")
    mcp_keep_browser_sessions: bool = Field(
        default=False,
        description="stdio: leave this process's browser sessions open when its client goes away.",
    )
    mcp_session_id_ttl: int = Field(
        default=3600,
        ge=600,
        description="Seconds a run's session_id is remembered (at least the 10-minute run limit).",
    )
    mcp_session_id_store: Literal["file", "memory"] = Field(
        default="file",
        description="stdio: where session_ids are remembered: a SQLite file in the state directory "
        "(survives restarts, shared by the user's processes) or this process's memory.",
    )
    mcp_state_dir: Path | None = Field(
        default=None,
        description="stdio: the directory of the session_id file; default the platform's state "
        "directory (Linux: $XDG_STATE_HOME/tinyfish-mcp or ~/.local/state/tinyfish-mcp).",
    )
    mcp_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    mcp_log_format: Literal["text", "json"] = Field(
        default="text", description="stderr log lines: text, or one JSON object per line."
    )
    # Browserbase, a second provider of browser sessions, fetch and search (Browserbase's own names).
    browserbase_api_key: SecretStr | None = Field(default=None, validation_alias="BROWSERBASE_API_KEY")
    browserbase_project_id: str | None = Field(default=None, validation_alias="BROWSERBASE_PROJECT_ID")
    browserbase_base_url: str = "https://api.browserbase.com"
    # Who serves each capability with two vendors (see README, "Providers"); after the key, which
    # their check reads.
    mcp_browser_provider: Provider = "tinyfish"
    mcp_fetch_provider: Provider = "tinyfish"
    mcp_search_provider: Provider = "tinyfish"

    # --- HTTP transport and authorization ------------------------------------
    mcp_auth: AuthMode = "oauth"
    mcp_host: str = "127.0.0.1"
    mcp_port: int = Field(default=8000, ge=0, le=65535)
    mcp_public_url: str | None = Field(
        default=None, description="Public base URL of this server (behind a proxy); default http://host:port."
    )
    mcp_stateless: bool = True
    mcp_workers: int = Field(
        default=0, ge=0, le=64, description="HTTP worker processes; 0: one per core with auth, else 1."
    )
    mcp_shutdown_grace_seconds: float = Field(
        default=15.0,
        ge=0,
        le=600,
        description="On SIGTERM, seconds in-flight run calls may go on before they answer with their run_id.",
    )
    mcp_stdio_shutdown_grace_seconds: float = Field(
        default=2.0,
        ge=0,
        le=600,
        description="stdio: when stdin closes or on SIGTERM/SIGINT, seconds in-flight calls may go on "
        "before run calls answer with their run_id.",
    )
    mcp_metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token of /metrics (HTTP); unset: no /metrics."
    )
    mcp_allowed_origins: tuple[str, ...] = ()
    mcp_allowed_hosts: tuple[str, ...] = ()
    mcp_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    mcp_secret: SecretStr | None = Field(
        default=None, description="Key material for encrypting stored API keys (oauth mode)."
    )
    mcp_database_url: str = "sqlite+aiosqlite:///tinyfish-mcp.db"
    mcp_access_token_ttl: int = Field(default=3600, ge=60)
    mcp_refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=300)
    mcp_auth_code_ttl: int = Field(default=300, ge=30, le=600)
    mcp_headless_api_keys: bool = Field(
        default=True,
        description="oauth mode: also accept a TinyFish API key (X-API-Key, or bearer sk-tinyfish-...).",
    )
    mcp_headless_key_ttl: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds an upstream check of a headless API key is cached."
    )
    mcp_token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long a replica trusts an access-token check; bounds how late a revocation made "
        "on another replica takes effect here (0: check the store on every request).",
    )
    mcp_cimd_allow_loopback: bool = Field(
        default=False,
        description="TEST ONLY: let client ID metadata documents be fetched from loopback addresses.",
    )
    # oauth mode: bounds on /authorize, the one unauthenticated endpoint that writes a row.
    mcp_authorize_rate_limit: int = Field(
        default=30, ge=1, description="Authorization requests per client address per minute."
    )
    mcp_pending_per_address: int = Field(
        default=60, ge=1, description="Sign-ins one client address may start within a consent window."
    )
    mcp_pending_max: int = Field(
        default=10_000, ge=1, description="Sign-ins waiting for consent, at most, across all addresses."
    )
    mcp_redis_url: SecretStr | None = Field(
        default=None, description="Redis for the rate limits shared by replicas (else the OAuth database)."
    )
    mcp_secret_previous: SecretStr | None = Field(
        default=None, description="The secret being rotated out: still decrypts, never encrypts."
    )
    # jwt mode: an external authorization server issues the tokens.
    mcp_jwt_issuer: str | None = None
    mcp_jwt_jwks_url: str | None = None
    mcp_jwt_audience: str | None = None
    mcp_jwt_required_scope: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _hosted_preset(cls, values: Any) -> Any:
        """``mcp_toolsets="hosted"`` picks the toolsets of the hosted tools and the hosted surface."""
        if not isinstance(values, dict):
            return values
        raw = values.get("mcp_toolsets")
        items = _toolset_items(raw)
        if items is not None and HOSTED_PRESET in items:
            if items != [HOSTED_PRESET]:
                raise ValueError("the toolset preset 'hosted' stands alone: give it without other toolsets")
            return {**values, "mcp_toolsets": HOSTED_TOOLSETS, "mcp_surface": "hosted"}
        return values

    @field_validator("mcp_toolsets", mode="before")
    @classmethod
    def _split_toolsets(cls, value: object) -> object:
        items = _toolset_items(value)
        if items is not None and isinstance(value, str):
            if not items or items == ["all"]:
                return TOOLSETS
            unknown = sorted(set(items) - set(TOOLSETS))
            if unknown:
                raise ValueError(
                    f"unknown toolset(s) {', '.join(unknown)}; choose from {', '.join(TOOLSETS)}, "
                    f"'all' or '{HOSTED_PRESET}'"
                )
            return tuple(dict.fromkeys(items))
        return value

    @field_validator("mcp_browser_provider", "mcp_fetch_provider", "mcp_search_provider", mode="before")
    @classmethod
    def _lower_provider(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("mcp_browser_provider", "mcp_fetch_provider", "mcp_search_provider")
    @classmethod
    def _browserbase_needs_a_key(cls, value: str, info: ValidationInfo) -> str:
        """A Browserbase provider without a Browserbase key fails here, at start-up, not at the first call."""
        key = info.data.get("browserbase_api_key")
        # In the sandbox the emulator serves the Browserbase API (and its key): none is needed.
        missing = key is None or not key.get_secret_value().strip()
        if value == "browserbase" and missing and not info.data.get("sandbox"):
            raise ValueError(
                "browserbase needs BROWSERBASE_API_KEY (and usually BROWSERBASE_PROJECT_ID); set it, or "
                "choose tinyfish"
            )
        if value == "browserbase" and info.field_name == "mcp_fetch_provider":
            from importlib.util import find_spec

            if find_spec("trafilatura") is None:
                raise ValueError("browserbase fetch needs pip install 'tinyfish-mcp[browserbase]'")
        return value

    @field_validator(
        "mcp_allowed_origins",
        "mcp_allowed_hosts",
        "mcp_app_frame_domains",
        "mcp_app_connect_domains",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("base_url", "mcp_public_url", mode="before")
    @classmethod
    def _strip_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            return value or None
        return value

    @cached_property
    def public_url(self) -> str:
        """The externally visible base URL of the HTTP server, without a trailing slash."""
        if self.mcp_public_url:
            return self.mcp_public_url
        host = self.mcp_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.mcp_port}"

    def product_url(self, product: Product, path: str = "") -> str:
        """The absolute URL of ``path`` on ``product``, routed as the official SDK routes it.

        With ``base_url`` set, every product is ``{base}/v1/{product}{path}``. Without it, a
        fetch or search request itself goes to that product's own host (API at the root), and
        everything else, their usage listings included, to the agent host.
        """
        if self.base_url:
            return f"{self.base_url}/v1/{product}{path}"
        if not path and product == "fetch":
            return f"{DEFAULT_FETCH_BASE_URL}/"
        if not path and product == "search":
            return f"{DEFAULT_SEARCH_BASE_URL}/"
        return f"{DEFAULT_AGENT_BASE_URL}/v1/{product}{path}"

    def state_dir(self) -> Path:
        """Where this user's local state lives (stdio's session_id file)."""
        if self.mcp_state_dir is not None:
            return self.mcp_state_dir
        return default_state_dir()

    def timeout_for(self, product: Product) -> float:
        """The read timeout for one request to ``product``."""
        return {
            "search": self.search_timeout,
            "fetch": self.fetch_timeout,
            "browser": self.browser_timeout,
        }.get(product, self.default_timeout)
