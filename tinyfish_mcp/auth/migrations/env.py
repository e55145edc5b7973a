"""Alembic's environment for the store's revisions: always on a connection the caller holds.

:func:`tinyfish_mcp.auth.migrations.upgrade` passes its connection, already locked and in
a transaction, as ``config.attributes["connection"]``; the caller commits. There is no
URL here and no ``alembic.ini``: use ``tinyfish-mcp db upgrade``.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations with `tinyfish-mcp db upgrade`, not the alembic command")
context.configure(connection=connection, version_table=context.config.attributes["version_table"])
with context.begin_transaction():
    context.run_migrations()
