"""Every table added after 0.1.0: run idempotency, browser sessions, rate limits, grant usage.

Revision ID: 0002
Revises: 0001

- ``tfmcp_run_keys``: one row per (owner, session_id) of ``run_web_automation``, so that
  every replica recognises a retried call (``auth/idempotency.py``).
- ``tfmcp_browser_sessions``: signed-in users' browser sessions (``auth/sessions_store.py``).
- ``tfmcp_rate_limits``: consent, registration and authorize counters shared by replicas
  (``auth/ratelimit_backends.py``).
- ``tfmcp_grant_usage``: when each grant was last used, for ``admin grants`` (``auth/usage.py``).

Builds between 0.1.0 and this revision created these tables at start, so a database they
made may hold some already: a table that exists is left as it is (it was created from the
same definition, index included).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_NEW_TABLES = ("tfmcp_run_keys", "tfmcp_browser_sessions", "tfmcp_rate_limits", "tfmcp_grant_usage")


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "tfmcp_run_keys" not in present:
        op.create_table(
            "tfmcp_run_keys",
            sa.Column("owner", sa.String(64), primary_key=True),
            sa.Column("session_id", sa.String(200), primary_key=True),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),  # "starting" | "started" | "unknown"
            sa.Column("run_id", sa.String(255), nullable=True),
            sa.Column("claimed_at", sa.Float, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
        op.create_index("ix_tfmcp_run_keys_expires", "tfmcp_run_keys", ["expires_at"])
    if "tfmcp_browser_sessions" not in present:
        op.create_table(
            "tfmcp_browser_sessions",
            sa.Column("session_id", sa.String(255), primary_key=True),
            sa.Column("owner", sa.String(128), nullable=False),
            sa.Column("cdp_url", sa.Text, nullable=False),
            sa.Column("base_url", sa.Text, nullable=False),
            sa.Column("timeout_seconds", sa.Integer, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("last_activity", sa.Float, nullable=False),
            sa.Column("ended_at", sa.Float, nullable=True),
            sa.Column("pages_digest", sa.String(64), nullable=True),
        )
        op.create_index("ix_tfmcp_browser_sessions_owner", "tfmcp_browser_sessions", ["owner", "created_at"])
    if "tfmcp_rate_limits" not in present:
        op.create_table(
            "tfmcp_rate_limits",
            # "<name>:<address>@<window>:<window index>"
            sa.Column("bucket", sa.String(255), primary_key=True),
            sa.Column("hits", sa.Integer, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
    if "tfmcp_grant_usage" not in present:
        op.create_table(
            "tfmcp_grant_usage",
            sa.Column("grant_id", sa.String(64), primary_key=True),
            sa.Column("last_used_at", sa.Float, nullable=False),
        )


def downgrade() -> None:
    for table in reversed(_NEW_TABLES):
        op.drop_table(table)
