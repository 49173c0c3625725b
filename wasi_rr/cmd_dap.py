"""``wasi-rr dap JOURNAL``: the debugger as a Debug Adapter Protocol server on stdio."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .exitcodes import ExitStatus
from .journal import JournalError


def _main(args: argparse.Namespace) -> int:
    from .replay.debug import open_session
    from .replay.debug.dap import DapFrontend

    frontend = DapFrontend(sys.stdin.buffer, sys.stdout.buffer)
    try:
        session = open_session(args.journal, frontend, module=args.module)
    except JournalError as exc:
        print(f"wasi-rr: error: cannot debug {args.journal}: {exc}", file=sys.stderr)
        return int(ExitStatus.JOURNAL_ERROR)
    try:
        session.drive()
    finally:
        session.close()
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dap", help="the debugger as a Debug Adapter Protocol server (IDEs)",
        description="Speak the Debug Adapter Protocol on stdin/stdout for one journal "
                    "(VS Code: see docs/debugging.md).")
    parser.add_argument("--module", metavar="PATH", default=None,
                        help="the module (a journal recorded with --no-embed-module)")
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.set_defaults(func=_main)
    return parser
