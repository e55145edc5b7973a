"""The owners of what the server started, for deployments whose users share one key.

Revision ID: 0003
Revises: 0002

- ``tfmcp_owned``: one row per (kind, resource id) of a run, research run, dataset, monitor
  or profile setup started in ``jwt`` mode, naming its owner (``auth/ownership_store.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tfmcp_owned",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("resource_id", sa.String(255), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_tfmcp_owned_owner", "tfmcp_owned", ["owner", "kind", "created_at"])


def downgrade() -> None:
    op.drop_table("tfmcp_owned")
