"""``wasi-rr`` command line: argparse with one module per subcommand.

Each subcommand lives in ``wasi_rr.cmd_<name>`` and exposes
``add_parser(subparsers) -> argparse.ArgumentParser``; the parser it adds sets
``func`` (``Callable[[argparse.Namespace], int]``) as a default. Modules that
do not exist (yet) are skipped, so teammates add ``record``/``replay``/``dump``/
``resume``/``ps`` by adding a file, without touching this one.

Failure reporting is decided here, once: tool errors (``WasiRrError``) are one
line ``wasi-rr: error: ...`` with their status; anything unexpected is one line
with a plea to report the bug, never a traceback (set ``WASI_RR_DEBUG=1`` to
see it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Final, NoReturn

from .errors import WasiRrError
from .exitcodes import ExitStatus

PROG: Final = "wasi-rr"
SUBCOMMAND_MODULES: Final = ("run", "record", "replay", "check", "dump", "resume", "ps",
                                "debug", "dap")
"""Subcommands in help order; each is ``wasi_rr.cmd_<name>`` if that module exists."""


def error_line(message: str) -> None:
    """Print one tool-error line on stderr."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr.

    argparse prints the whole usage block before the error; every other
    wasi-rr error is one line, and a script reading stderr should not have to
    tell the two apart. The status stays argparse's 2 (``ExitStatus.USAGE``).
    Subparsers inherit the class (``add_subparsers`` uses the parent's type).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(int(ExitStatus.USAGE),
                  f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only`` (a known subcommand), just that subcommand's: a
    command imports only what it needs (start-up is most of a short run), while
    ``--help`` and mistakes still get every subcommand."""
    parser = OneLineParser(
        prog=PROG,
        description="Deterministic record/replay journaling host for WASI preview1 programs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES if only is None else (only,):
        module_name = f"{__package__}.cmd_{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                continue
            raise
        module.add_parser(subparsers)
    return parser


def _version() -> str:
    from . import __version__
    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (also used by ``sys.exit``)."""
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        first = words[0] if words else None
        parser = build_parser(first if first in SUBCOMMAND_MODULES else None)
        args = parser.parse_args(words)
        status = int(args.func(args))
    except WasiRrError as e:
        error_line(str(e))
        status = int(e.status)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        status = 130
    except SystemExit as e:  # argparse --help / usage errors
        code = e.code
        status = code if isinstance(code, int) else (0 if code is None else int(ExitStatus.USAGE))
    except BaseException as e:  # the last line of defence: never a traceback
        if os.environ.get("WASI_RR_DEBUG"):
            import traceback

            traceback.print_exc()
        error_line(f"internal error: {type(e).__name__}: {e} "
                   "(this is a wasi-rr bug, please report it; WASI_RR_DEBUG=1 shows details)")
        status = int(ExitStatus.TOOL_ERROR)
    _flush_stdio()
    return status


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def entry() -> None:
    """``python -m wasi_rr`` / console script."""
    sys.exit(main())
