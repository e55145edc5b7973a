"""What every toolset shares: the tools' dependencies (``context``), results and their bounds,
errors, schema helpers and annotation constants, ``session_id`` idempotency and recovery of lost
creates, ownership of what the server starts, and the browser-session records.

Toolsets (``toolsets/``) import from here; nothing here imports a toolset.
"""
