"""The schema of the first release, 0.1.0: the authorization server's five tables.

Revision ID: 0001
Revises: (none)

Written out column by column, as 0.1.0 created them, rather than taken from today's
tables: a revision is history and must not change when the code does. A database made by
0.1.0 (these tables, no ``alembic_version``) is stamped at this revision without running it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Client ids are UUIDs for registered clients but whole https URLs for metadata-document clients.
_CLIENT_ID = 2048


def upgrade() -> None:
    op.create_table(
        "tfmcp_clients",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("info_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tfmcp_pending",
        sa.Column("txn_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(_CLIENT_ID), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tfmcp_grants",
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(_CLIENT_ID), nullable=False),
        sa.Column("api_key_ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tfmcp_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(_CLIENT_ID), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("redirect_uri_explicit", sa.Boolean, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
    )
    op.create_index("ix_tfmcp_codes_grant", "tfmcp_codes", ["grant_id"])
    op.create_table(
        "tfmcp_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # "access" | "refresh"
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(_CLIENT_ID), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("rotated_at", sa.Float, nullable=True),
    )
    op.create_index("ix_tfmcp_tokens_grant", "tfmcp_tokens", ["grant_id"])


def downgrade() -> None:
    for table in ("tfmcp_tokens", "tfmcp_codes", "tfmcp_grants", "tfmcp_pending", "tfmcp_clients"):
        op.drop_table(table)
