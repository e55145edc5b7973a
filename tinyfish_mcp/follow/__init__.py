"""The one follower of long-running upstream work: runs, batches, research runs, datasets.

* ``loop``: the stream → drop → reconnect/resume → poll loop around a :class:`Work` seam;
* ``window``: the call window (the work's id instead of a hang, a client cancel sent upstream);
* ``drain``: shutdown closing every window early;
* ``progress``: one call's progress notifications.

The toolsets implement the seam for their kind of work; the call window, the wait tools
and MCP Tasks all follow work through here.
"""

from .drain import call_window
from .handoff import Look, TaskKind, handing_off, is_handing_off
from .loop import MAX_POLL_FAILURES, Closed, Work, follow, follow_stream, poll
from .progress import Progress, Reporter, silent
from .window import CANCEL_TIMEOUT, WINDOW_MARGIN, Job, cancel_upstream, within_window

__all__ = [
    "CANCEL_TIMEOUT",
    "MAX_POLL_FAILURES",
    "WINDOW_MARGIN",
    "Closed",
    "Job",
    "Look",
    "Progress",
    "Reporter",
    "TaskKind",
    "Work",
    "call_window",
    "cancel_upstream",
    "follow",
    "follow_stream",
    "handing_off",
    "is_handing_off",
    "poll",
    "silent",
    "within_window",
]
