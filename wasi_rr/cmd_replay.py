"""``wasi-rr replay [--verify] [--module PATH] [--no-shim] JOURNAL``.

Exit status: the recorded guest's status when the replay matched (a matching
trap: ``ExitStatus.TRAP``), ``ExitStatus.DIVERGENCE`` with a report on stderr
when it did not, ``ExitStatus.JOURNAL_ERROR`` for a truncated/corrupt journal,
``ExitStatus.TOOL_ERROR`` when the module is missing or invalid.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .exitcodes import ExitStatus
from .journal import JournalError


def _main(args: argparse.Namespace) -> int:
    from .replay.engine import replay

    from .replay.procs import group_replay_needed, replay_group

    try:
        needed, start = (True, args.from_snapshot) if args.from_snapshot is not None \
            else group_replay_needed(args.journal)
        if needed and args.verify:
            print("wasi-rr: error: --verify does not support snapshots or several processes",
                  file=sys.stderr, flush=True)
            return int(ExitStatus.TOOL_ERROR)
        if needed:  # several processes, or starting at a snapshot (docs/snapshots.md)
            result = replay_group(args.journal, from_snapshot=start, module=args.module)
        else:
            result = replay(args.journal, module=args.module, verify=args.verify,
                            shim=not args.no_shim)
    except JournalError as exc:
        print(f"wasi-rr: error: cannot replay {args.journal}: {exc}", file=sys.stderr,
              flush=True)
        return int(ExitStatus.JOURNAL_ERROR)
    if result.divergence is not None:
        print(result.divergence.report(), file=sys.stderr, flush=True)
        return int(ExitStatus.DIVERGENCE)
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
    parser.add_argument("--from-snapshot", type=int, default=None, metavar="ID",
                        help="start at this snapshot of the journal (restore it, then replay "
                             "the entries after it)")
    parser.add_argument("--no-shim", action="store_true",
                        help="answer every call in Python instead of letting the generated wasm "
                             "shim answer loops of repeated calls (same results and reports, "
                             "slower; for ruling the shim out when something looks wrong)")
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.set_defaults(func=_main)
    return parser
