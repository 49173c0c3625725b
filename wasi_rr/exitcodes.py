"""Process exit statuses of the ``wasi-rr`` command, defined once.

Guests may exit with any status, so the reserved values sit where ordinary
programs rarely go; they match the conventions of ``env``/``timeout`` (125 for
the tool's own failure) and of a signal death (134 = 128 + SIGABRT, which is how
a trapping guest looks to a shell script).
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Statuses the tool itself produces (the guest's own status passes through)."""

    USAGE = 2
    """Command-line usage error (argparse convention)."""
    DIVERGENCE = 97
    """Replay diverged from the journal; a report is on stderr."""
    TOOL_ERROR = 125
    """wasi-rr could not do its job: unreadable module, bad --dir, I/O error."""
    JOURNAL_ERROR = 126
    """The journal is truncated or corrupt (not a divergence of the guest)."""
    TRAP = 134
    """The guest trapped (unreachable, out-of-bounds, stack overflow...)."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (128 + SIGINT, the shell convention); a recording's
    journal is closed with an ``interrupted`` ending first."""
    TIMEOUT = 124
    """``replay --timeout`` expired (the convention of coreutils' ``timeout``)."""
