"""``wasi-rr check PATH... [-j N|auto] [--verify] [--executor local|dask] ...``.

Argument parsing and printing only; the work is ``wasi_rr.replay.check``.
Exit status (docs/scale.md): 0 when every trace passed, else by precedence
``ExitStatus.DIVERGENCE`` (any diverged), ``ExitStatus.JOURNAL_ERROR`` (any
damaged), ``ExitStatus.TOOL_ERROR`` (any error or timeout, or the run itself
could not start or write its files).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .argtypes import jobs, positive_int, positive_seconds
from .exitcodes import ExitStatus


def _main(args: argparse.Namespace) -> int:
    from .replay.check import CheckError, check, find_journals
    from .replay.check.progress import make_progress
    from .replay.check.text import failure_lines, summary_lines

    if args.executor == "local" and args.scheduler is not None:
        args.parser.error("--scheduler needs --executor dask")
    found = find_journals(args.paths)
    progress = make_progress(len(found), sys.stdout, sys.stderr, quiet=args.quiet)
    try:
        report = check(found, executor=args.executor, jobs=args.jobs,
                       scheduler=args.scheduler, verify=args.verify, timeout=args.timeout,
                       ship=args.ship, batch=args.batch, on_result=progress)
    finally:
        progress.close()
    for line in [*failure_lines(report), *summary_lines(report)]:
        print(line, flush=True)
    try:
        if args.junit is not None:
            from .replay.check.junit import write_junit

            write_junit(report, args.junit)
        if args.json is not None:
            from .replay.check.jsonout import write_json

            write_json(report, args.json)
    except OSError as exc:
        raise CheckError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    return report.exit_status


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check", help="replay every journal under the given paths, in parallel",
        description="Replay every journal (*.wrr under directories; files as named) on a "
                    "pool of workers and report each as passed, diverged, damaged, error or "
                    "timeout. Exit status 0 when all passed, else "
                    f"{int(ExitStatus.DIVERGENCE)} if any diverged, "
                    f"{int(ExitStatus.JOURNAL_ERROR)} if any was damaged, "
                    f"{int(ExitStatus.TOOL_ERROR)} for errors and timeouts (docs/scale.md).")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="journal files, or directories searched for *.wrr")
    parser.add_argument("-j", "--jobs", type=jobs, default=None, metavar="N|auto",
                        help="worker processes (local pool or LocalCluster; default auto: "
                             "this machine's cores)")
    parser.add_argument("--verify", action="store_true",
                        help="replay with --verify (re-execute every call on a rebuilt kernel)")
    parser.add_argument("--executor", choices=["local", "dask"], default=None,
                        help="local process pool (default) or Dask (a LocalCluster unless "
                             "--scheduler is given)")
    parser.add_argument("--scheduler", metavar="ADDR", default=None,
                        help="address of a running Dask scheduler, e.g. tcp://HOST:8786 "
                             "(implies --executor dask)")
    parser.add_argument("--timeout", type=positive_seconds, default=None, metavar="SECONDS",
                        help="per-trace limit: a longer replay is reported as 'timeout' and "
                             "its worker replaced")
    parser.add_argument("--ship", choices=["auto", "paths", "bytes"], default="auto",
                        help="send workers journal paths (shared filesystem) or bytes; auto: "
                             "paths when every worker runs on this host")
    parser.add_argument("--batch", type=positive_int, default=None, metavar="N",
                        help="traces per task (default: up to 4 locally, up to 64 on Dask)")
    parser.add_argument("--junit", metavar="FILE", default=None,
                        help="write JUnit XML (one testcase per trace)")
    parser.add_argument("--json", metavar="FILE", default=None,
                        help="write the report as one JSON object")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the traces that did not pass, and the summary")
    parser.set_defaults(func=_main, parser=parser)
    return parser
