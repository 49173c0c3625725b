"""``wasi-rr debug JOURNAL [--module PATH] [--batch] [-x FILE] [--json]``.

An interactive debugger at the WASI boundary whose position is a syscall
sequence number: move forward and back, break on calls or memory, look at
memory, the stack, the fd table and the filesystem as they were there, and
branch off a live run (docs/debugging.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .exitcodes import ExitStatus
from .journal import JournalError


def _main(args: argparse.Namespace) -> int:
    from .replay.debug import open_session
    from .replay.debug.frontend import LineFrontend, stdin_lines

    lines = None
    if args.commands is not None:
        try:
            with open(args.commands, encoding="utf-8") as f:
                lines = iter([line.rstrip("\n") for line in f])
        except OSError as exc:
            print(f"wasi-rr: error: cannot read {args.commands}: {exc.strerror}",
                  file=sys.stderr)
            return int(ExitStatus.TOOL_ERROR)
    interactive = lines is None and not args.batch and sys.stdin.isatty()
    if lines is None and not interactive:
        lines = stdin_lines()
    frontend = LineFrontend(lines, sys.stdout, as_json=args.json, interactive=interactive)
    try:
        session = open_session(args.journal, frontend, module=args.module)
    except JournalError as exc:
        print(f"wasi-rr: error: cannot debug {args.journal}: {exc}", file=sys.stderr)
        return int(ExitStatus.JOURNAL_ERROR)
    if interactive:
        print(f"wasi-rr debug: {args.journal}: {len(session.index)} syscalls; "
              "`help` lists the commands", flush=True)
    try:
        session.drive()
    finally:
        session.close()
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "debug", help="time-travel debugger at the WASI boundary",
        description="Debug a recorded run: stop at any syscall, step forward and back, "
                    "break on calls or memory, inspect memory, the stack, the fd table and "
                    "the filesystem as they were there, and branch off a live run.")
    parser.add_argument("--module", metavar="PATH", default=None,
                        help="the module (a journal recorded with --no-embed-module)")
    parser.add_argument("--batch", action="store_true",
                        help="read commands from stdin, no prompt (also when stdin is not "
                             "a terminal)")
    parser.add_argument("-x", dest="commands", metavar="FILE", default=None,
                        help="read commands from FILE")
    parser.add_argument("--json", action="store_true",
                        help="answer every command with one JSON object per line")
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.set_defaults(func=_main)
    return parser
