"""What each kind of tool does to the world, as the ``ToolAnnotations`` clients read.

One constant per kind, named for what the tool does; a tool names its kind instead of
spelling out the four hints. A hint left unset here is unset in the tool's listing too
(the published schemas keep their exact shape: ``tests/snapshots/tools.json``).
"""

from __future__ import annotations

from mcp_types import ToolAnnotations

__all__ = ["CANCELS_RUNS", "CHANGES", "CREATES", "DESTRUCTIVE", "READS_RUNS", "READ_ONLY"]

# Reads the account or the web, changes nothing.
READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=True)
# Starts something new upstream (a run, a session, a dataset, a monitor, a profile): often billed,
# and a second call starts a second one.
CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)
# Changes a setting of something that exists (pause or resume a monitor); a repeat changes nothing more.
CHANGES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=True)
# Stops, closes or deletes something; a repeat changes nothing more.
DESTRUCTIVE = ToolAnnotations(
    readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=True
)
# Reads or waits on the caller's own runs.
READS_RUNS = ToolAnnotations(
    readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False
)
# Cancels the caller's own runs.
CANCELS_RUNS = ToolAnnotations(
    readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False
)
