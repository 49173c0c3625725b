"""``wasi-rr replay [--verify] [--module PATH] [--from-snapshot ID] [--slow] JOURNAL``.

Exit status: the recorded guest's status when the replay matched (a matching
trap: ``ExitStatus.TRAP``), ``ExitStatus.DIVERGENCE`` with a report on stderr
when it did not, ``ExitStatus.JOURNAL_ERROR`` for a truncated/corrupt journal,
``ExitStatus.TOOL_ERROR`` when the module is missing or invalid.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .argtypes import positive_int, positive_seconds
from .exitcodes import ExitStatus
from .journal import JournalError


def _main(args: argparse.Namespace) -> int:
    from .replay.engine import replay

    if args.gdb or args.lldb:
        from .replay.debug.native import launch

        return launch("gdb" if args.gdb else "lldb", args.journal, module=args.module,
                      break_at=args.break_at)
    if args.debug_engine or args.break_at is not None:
        from .replay.debug.native_replay import replay_for_debugger

        result = replay_for_debugger(args.journal, module=args.module, break_at=args.break_at,
                                     debug_engine=args.debug_engine)
    else:
        result = None
    try:
        if result is None:
            result = replay(args.journal, module=args.module, verify=args.verify,
                            fast=not args.slow, from_snapshot=args.from_snapshot,
                            interruptible=True, timeout=args.timeout)
    except JournalError as exc:
        print(f"wasi-rr: error: cannot replay {args.journal}: {exc}", file=sys.stderr,
              flush=True)
        return int(ExitStatus.JOURNAL_ERROR)
    if result.divergence is not None:
        print(result.divergence.report(), file=sys.stderr, flush=True)
        return int(ExitStatus.DIVERGENCE)
    if result.exit_code == ExitStatus.INTERRUPTED and result.trap is None:
        print(f"wasi-rr: the recording was interrupted (Ctrl-C); replayed its "
              f"{result.entries_consumed} syscalls", file=sys.stderr, flush=True)
        return int(ExitStatus.INTERRUPTED)
    if result.trap is not None:
        print(f"wasi-rr: guest trapped: {result.trap}", file=sys.stderr, flush=True)
        return int(ExitStatus.TRAP)
    return result.exit_code & 0xFF


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay", help="re-drive a guest from its journal alone",
        description="Replay a journal: answer every syscall from it, reproduce the guest's "
                    "stdout/stderr and exit status, and report the first divergence "
                    f"(exit status {int(ExitStatus.DIVERGENCE)}).")
    parser.add_argument("--module", metavar="PATH", default=None,
                        help="replay this module instead of the embedded one (e.g. a new build)")
    parser.add_argument("--verify", action="store_true",
                        help="also re-execute every syscall on a kernel rebuilt from the journal "
                             "and check it gives the recorded answers")
    parser.add_argument("--from-snapshot", type=positive_int, default=None, metavar="ID",
                        help="start at this snapshot of the journal (restore it, then replay "
                             "the entries after it)")
    parser.add_argument("--slow", "--no-shim", dest="slow", action="store_true",
                        help="answer every call in Python instead of the generated wasm "
                             "replayer (same results and reports, slower; for ruling the "
                             "replayer out when something looks wrong)")
    parser.add_argument("--timeout", type=positive_seconds, default=None, metavar="SECONDS",
                        help="stop a replay that runs longer than this (exit status "
                             f"{int(ExitStatus.TIMEOUT)})")
    parser.add_argument("--gdb", action="store_true",
                        help="run the replay under gdb with the guest's DWARF (breakpoints "
                             "on its functions and lines, bt, info locals, next); commands "
                             "from stdin when it is not a terminal")
    parser.add_argument("--lldb", action="store_true", help="the same under lldb")
    parser.add_argument("--break-at", type=int, default=None, metavar="SEQ",
                        help="with --gdb/--lldb: stop in the debugger when syscall SEQ is "
                             "reached, with the guest's frames on the stack")
    parser.add_argument("--debug-engine", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.set_defaults(func=_main)
    return parser
