"""``wasi-rr ps JOURNAL``: the process tree of a recorded run.

One line per process (pid order): pid, parent pid, how it ended (exit status,
``trap``, or ``-`` when the journal has no ending for it), its syscall count
and argv. Children appear when the guest used WASIX ``proc_fork``.
"""

from __future__ import annotations

import argparse
from typing import Any

from .journal import JournalError
from .snapshots import journal_error, process_tree


def _main(args: argparse.Namespace) -> int:
    try:
        procs = process_tree(args.journal)
    except JournalError as exc:
        raise journal_error(args.journal, exc) from None
    print(f"{'PID':>5} {'PPID':>5} {'STATUS':>7} {'SYSCALLS':>9}  ARGV")
    for p in procs:
        status = "trap" if p.trap is not None else "-" if p.status is None else str(p.status)
        print(f"{p.pid:>5} {p.ppid:>5} {status:>7} {p.syscalls:>9}  {' '.join(p.argv)}")
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ps", help="print the process tree of a journal",
        description="List the processes of a recorded run: pid, parent pid, exit status, "
                    "syscalls, argv.")
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.set_defaults(func=_main)
    return parser
