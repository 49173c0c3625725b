"""``wasi-rr record -o JOURNAL [run options] MODULE [ARGS...]``."""

from __future__ import annotations

import sys
from typing import Any

from .errors import ConfigError
from .journal.writer import DEFAULT_INPUT_HASH_THRESHOLD


def _record_main(args: Any) -> int:
    from .cmd_run import config_from_args, report
    from .record import record
    from .snapshots import policy_from_args

    meta: dict[str, Any] = {}
    for spec in args.meta:
        key, sep, value = spec.partition("=")
        if not key or not sep:
            raise ConfigError(f"bad --meta {spec!r}: expected KEY=VALUE")
        meta[key] = value
    config = config_from_args(args, snapshots=policy_from_args(args))
    if config.dirs and args.capture_fs:
        _capture_into(meta, config)
    result = record(config, args.output, embed_module=not args.no_embed_module,
                    redact_env=args.redact_env, meta=meta,
                    input_hash_threshold=None if args.full_inputs else args.hash_inputs_over,
                    fast=not args.slow)
    return report(result)


def _capture_into(meta: dict[str, Any], config: Any) -> None:
    """Store the mounted host directories' initial contents for ``replay --verify``.

    On by default because a journal that cannot be verified surprises its user
    later, on another machine; a tree too large for a journal is skipped with a
    warning (verbatim replay never needs it).
    """
    from wasi_rr.host.runtime.fscapture import CAPTURE_KEY, CaptureError, capture_dirs

    try:
        meta[CAPTURE_KEY] = capture_dirs(config.dirs)
    except (CaptureError, OSError) as exc:
        print(f"wasi-rr: warning: host directories not captured ({exc}); "
              "'replay --verify' will not be available for this journal", file=sys.stderr)


def add_parser(subparsers: Any) -> Any:
    """Add ``record -o JOURNAL [run options] MODULE [ARGS...]`` to the subcommands."""
    from .argtypes import positive_int
    from .cmd_run import add_run_options
    from .snapshots import add_snapshot_options

    parser = subparsers.add_parser(
        "record", help="run a WASI command and journal every syscall",
        description="Run a WASI command like 'run' and write a self-contained journal "
                    "(module embedded) that 'replay' re-drives; exit with the guest's status.")
    parser.add_argument("-o", "--output", required=True, metavar="JOURNAL",
                        help="the journal file to write (.wrr)")
    parser.add_argument("--no-embed-module", action="store_true",
                        help="leave the module out of the journal (replay then needs --module)")
    parser.add_argument("--redact-env", action="append", default=[], metavar="NAME",
                        help="keep NAME's value out of the journal: a same-length placeholder "
                             "replaces it everywhere (the replayed guest sees the placeholder)")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                        help="free-form metadata stored in the journal header")
    parser.add_argument(
        "--hash-inputs-over",
        type=positive_int,
        default=DEFAULT_INPUT_HASH_THRESHOLD,
        metavar="BYTES",
        help="store guest buffers larger than this as a sha256 (default "
        f"{DEFAULT_INPUT_HASH_THRESHOLD}; stdout/stderr always in full)",
    )
    parser.add_argument(
        "--full-inputs", action="store_true", help="store every guest buffer in full"
    )
    parser.add_argument(
        "--no-capture-fs",
        dest="capture_fs",
        action="store_false",
        help="do not store the --dir directories' initial contents (by "
        "default they are, up to 16 MiB, so 'replay --verify' works)",
    )
    parser.add_argument(
        "--slow",
        action="store_true",
        help="journal every call from Python instead of the generated wasm "
        "recorder (same journal, slower; for ruling the recorder out)",
    )
    add_snapshot_options(parser)
    add_run_options(parser)
    parser.set_defaults(func=_record_main)
    return parser
