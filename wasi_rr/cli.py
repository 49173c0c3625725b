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
from typing import Any, Final, NoReturn

from .errors import WasiRrError
from .exitcodes import ExitStatus

PROG: Final = "wasi-rr"
SUBCOMMAND_MODULES: Final = ("run", "record", "replay", "check", "dump", "resume", "ps",
                                "debug", "dap")
"""Subcommands in help order; each is ``wasi_rr.cmd_<name>`` if that module exists."""


def error_line(message: str) -> None:
    """Print one tool-error line on stderr."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` (``$COLUMNS``, else the terminal's
    width, else 80) without importing shutil, which with bz2 and lzma costs
    every start-up ~3 ms: argparse builds a help formatter for every argument."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return (os.get_terminal_size(stdout.fileno()).columns if stdout else 0) or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the width (as argparse computes it) up front."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr.

    argparse prints the whole usage block before the error; every other
    wasi-rr error is one line, and a script reading stderr should not have to
    tell the two apart. The status stays argparse's 2 (``ExitStatus.USAGE``).
    Subparsers inherit the class (``add_subparsers`` uses the parent's type).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

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
