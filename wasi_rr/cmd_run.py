"""``wasi-rr run [OPTS] MODULE.wasm [ARGS...]`` and the options ``record`` reuses.

Conventions follow wasmtime's CLI: options come before the module, everything
after it is the guest's argv (``argv[0]`` is MODULE as written); ``--dir HOST``
alone maps HOST under the same name. The process exits with the guest's status
(low 8 bits, as the OS keeps them); a trap is one line on stderr and
``ExitStatus.TRAP``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .api import DirMount, MountMode, RunConfig, RunResult, run
from .errors import ConfigError
from .exitcodes import ExitStatus


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Add the options shared by every command that starts a guest, and the
    ``MODULE ARGS...`` positionals (which must come last)."""
    parser.add_argument(
        "--dir", dest="dirs", action="append", default=[], metavar="HOST[::GUEST]",
        help="preopen host directory HOST as GUEST (default: the same name), writes go through")
    parser.add_argument(
        "--dir-overlay",
        dest="overlay_dirs",
        action="append",
        default=[],
        metavar="HOST[::GUEST]",
        help="preopen HOST as GUEST with an in-memory overlay: "
        "the host directory is never modified",
    )
    parser.add_argument(
        "--tmpfs",
        action="append",
        default=[],
        metavar="GUEST",
        help="preopen an empty in-memory directory at GUEST",
    )
    parser.add_argument(
        "--env",
        dest="envs",
        action="append",
        default=[],
        metavar="NAME[=VAL]",
        help="set an environment variable for the guest; NAME alone inherits it from wasi-rr's",
    )
    parser.add_argument(
        "--argv0", metavar="NAME", help="argv[0] seen by the guest (default: MODULE as written)"
    )
    parser.add_argument(
        "--trap-unknown-imports",
        action="store_true",
        help="run modules with imports wasi-rr does not provide; calling one traps",
    )
    parser.add_argument("module", metavar="MODULE.wasm", help="the WASI command to run")
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments passed to the guest"
    )


def parse_dir(spec: str, mode: MountMode) -> DirMount:
    """``HOST::GUEST`` or ``HOST`` (guest sees it under the same name)."""
    host, sep, guest = spec.partition("::")
    if not host or (sep and not guest):
        raise ConfigError(f"bad directory mapping {spec!r}: expected HOST or HOST::GUEST")
    return DirMount(host=Path(host), guest=guest if sep else host, mode=mode)


def parse_env(specs: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """``NAME=VAL`` sets, ``NAME`` inherits (skipped when not set here)."""
    source = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not name:
            raise ConfigError(f"bad --env {spec!r}: expected NAME=VAL or NAME")
        if sep:
            env[name] = value
        elif name in source:
            env[name] = source[name]
    return env


def config_from_args(args: argparse.Namespace, **overrides: Any) -> RunConfig:
    """The ``RunConfig`` described by ``add_run_options``' options."""
    dirs = [parse_dir(d, MountMode.WRITE_THROUGH) for d in args.dirs]
    dirs += [parse_dir(d, MountMode.OVERLAY) for d in args.overlay_dirs]
    for d in dirs:
        if not d.host.is_dir():
            raise ConfigError(f"--dir {d.host}: not a directory")
    config = RunConfig(
        module=Path(args.module),
        args=list(args.args),
        env=parse_env(args.envs),
        dirs=dirs,
        tmpfs=list(args.tmpfs),
        argv0=args.argv0 if args.argv0 is not None else args.module,
        trap_unknown_imports=args.trap_unknown_imports,
        interruptible=True,
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def report(result: RunResult) -> int:
    """Print the trap line if any; return the process status for ``result``.

    A trap caused by a wasi-rr bug (``host_error``) is not the guest's doing:
    it is reported as an internal error with ``ExitStatus.TOOL_ERROR``."""
    if result.host_error is not None:
        print(
            f"wasi-rr: error: internal error: {result.trap} "
            "(this is a wasi-rr bug, please report it)",
            file=sys.stderr,
            flush=True,
        )
        return int(ExitStatus.TOOL_ERROR)
    if result.trap is not None:
        print(f"wasi-rr: guest trapped: {result.trap}", file=sys.stderr, flush=True)
        return int(ExitStatus.TRAP)
    return result.exit_code & 0xFF


def _main(args: argparse.Namespace) -> int:
    return report(run(config_from_args(args)))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run a WASI command (no journal)",
        description="Run a WASI preview1 command module; exit with its status.",
    )
    add_run_options(parser)
    parser.set_defaults(func=_main)
    return parser
