"""``record``: run a guest like ``wasi_rr.run`` and journal every syscall.

The glue between the host adapter's observation seam (``SyscallObserver``,
which hands over a ``SyscallRecord`` after each call) and the journal writer,
which knows nothing of the host layer. It also builds the journal header from
the ``RunConfig`` and applies ``--redact-env``.

Redaction: the guest runs with the real value of each redacted variable, but
the journal stores a placeholder of the *same byte length* (``*`` repeated) in
the header and inside the recorded ``environ_get`` writes, so a replay lays out
guest memory exactly as the recording did. A replayed guest therefore sees the
placeholder; a program whose behaviour depends on the secret's value (prints
it, hashes it, branches on it) may take another path, which replay reports as a
divergence. Values the guest copies elsewhere (e.g. prints to stdout, writes to
a file) are not redacted: the journal records what crossed the boundary.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .api import RunConfig, RunResult, run
from .errors import WasiRrError
from .exitcodes import ExitStatus
from wasi_rr.host.table.abi import SyscallRecord
from wasi_rr.host.runtime.process import read_module_file, wasmtime_version
from .journal import (
    ExitEvent,
    JournalError,
    JournalHeader,
    JournalWriter,
    Preopen,
    StartEvent,
    TrapEvent,
)
from .journal.writer import DEFAULT_INPUT_HASH_THRESHOLD

__all__ = ["RecordError", "JournalObserver", "record", "journal_header", "PID"]

PID = 1
"""The pid of the recorded process (the first and, without fork, only one)."""
KEEP_FULL_INPUTS = {"fd_write": (1, 2), "fd_pwrite": (1, 2)}
"""Output to stdout/stderr is always journaled in full (dump shows it, replay can
print it even after a divergence); fds are judged by number at call time."""


class RecordError(WasiRrError):
    """The journal could not be written (disk full, permission denied...)."""

    status = ExitStatus.TOOL_ERROR


def _placeholder(value: str) -> str:
    return "*" * len(value.encode())


class JournalObserver:
    """A ``SyscallObserver`` that appends every ``SyscallRecord`` to a journal.

    Without redaction ``on_syscall`` *is* the writer's ``write_record`` (one call
    frame per syscall, the cheapest hook). A journal write failure raises
    ``JournalWriteError`` inside the syscall, which the adapter turns into a trap
    that stops the guest; ``record`` then reports the journal error itself.
    Writes to fds 1 and 2 keep their data in full whatever its size (see
    ``KEEP_FULL_INPUTS``). The redacted call (``environ_get``) is never one of
    the fused calls of ``record_sink``, so redaction still applies.
    """

    def __init__(self, writer: JournalWriter,
                 redact: Mapping[str, str] | None = None) -> None:
        self.writer = writer
        self._redact = {f"{k}={v}".encode(): f"{k}={_placeholder(v)}".encode()
                        for k, v in (redact or {}).items()}
        self._write = writer.write_record
        self.record_sink = writer
        """Lets the adapter journal the hottest calls straight into the writer
        (``host.recordpath``; the same entries ``on_syscall`` would write)."""
        self.on_syscall = (  # type: ignore[method-assign]
            self._on_syscall_redacting if self._redact else writer.write_record)

    def on_syscall(self, record: SyscallRecord) -> None:  # replaced per instance
        """Journal one call."""
        self._write(record)

    def _on_syscall_redacting(self, record: SyscallRecord) -> None:
        if record.name == "environ_get":
            record = replace(record, writes=[(a, self._redact_blob(d))
                                             for a, d in record.writes])
        self._write(record)

    def _redact_blob(self, data: bytes) -> bytes:
        """Replace ``NAME=VALUE`` strings of a NUL-separated environ blob."""
        parts = data.split(b"\0")
        return b"\0".join(self._redact.get(p, p) for p in parts)


class _Tee:
    """Calls the journal observer, then the caller's own observer."""

    def __init__(self, first: Any, second: Any) -> None:
        self._first = first.on_syscall
        self._second = second.on_syscall

    def on_syscall(self, record: SyscallRecord) -> None:
        self._first(record)
        self._second(record)


def _tee(journal: JournalObserver, other: Any) -> Any:
    return journal if other is None else _Tee(journal, other)


@functools.cache
def _host_facts() -> tuple[tuple[str, str], ...]:
    """Informational header metadata about this machine (cached: ``platform.platform()``
    and the wasmtime version lookup cost milliseconds, paid once per process)."""
    facts = [("host", platform.node()), ("platform", platform.platform()),
             ("python", platform.python_version())]
    version = wasmtime_version()
    if version != "unknown":
        facts.append(("wasmtime", version))
    return tuple(facts)


def journal_header(config: RunConfig, *, module_bytes: bytes, redact_env: Iterable[str] = (),
                   meta: Mapping[str, Any] | None = None) -> JournalHeader:
    """The header describing ``config`` (with redacted variables replaced)."""
    redacted = [n for n in redact_env if n in config.env]
    env = [(k, _placeholder(v) if k in redacted else v) for k, v in config.env.items()]
    argv0 = config.argv0 if config.argv0 is not None else str(config.module)
    preopens = [Preopen(d.guest, d.mode.value, str(d.host)) for d in config.dirs]
    preopens += [Preopen(g, "tmpfs", None) for g in config.tmpfs]
    options: dict[str, Any] = {"trap_unknown_imports": config.trap_unknown_imports}
    if config.clock is not None:
        options["clock"] = type(config.clock).__name__
    if config.random is not None:
        options["random"] = type(config.random).__name__
    auto_meta: dict[str, Any] = dict(_host_facts())
    auto_meta.update(meta or {})
    return JournalHeader(
        module_sha256=hashlib.sha256(module_bytes).hexdigest(),
        argv=[argv0, *config.args],
        env=env,
        preopens=preopens,
        options=options,
        meta=auto_meta,
        module_name=Path(config.module).name,
        module_size=len(module_bytes),
        redacted_env=redacted,
    )


def record(config: RunConfig, journal_path: str | os.PathLike[str], *,
           embed_module: bool = True, redact_env: Iterable[str] = (),
           meta: Mapping[str, Any] | None = None,
           input_hash_threshold: int | None = DEFAULT_INPUT_HASH_THRESHOLD) -> RunResult:
    """Run ``config`` like ``wasi_rr.run`` and write its journal to ``journal_path``.

    An observer already in ``config`` still sees every call (after the journal).
    ``embed_module=False`` leaves the module out (replay then needs ``--module``;
    the header still names its SHA-256). Raises ``RecordError`` if the journal
    cannot be written, ``WasiRrError`` subclasses for bad modules/configs like
    ``run``; a guest trap or exit is a result, journaled as an event.
    """
    module_bytes = read_module_file(Path(config.module))
    redact_env = list(redact_env)
    header = journal_header(config, module_bytes=module_bytes, redact_env=redact_env,
                            meta=meta)
    try:
        writer = JournalWriter(journal_path, header,
                               module=module_bytes if embed_module else None,
                               input_hash_threshold=input_hash_threshold,
                               keep_full_inputs=KEEP_FULL_INPUTS)
    except JournalError as exc:
        raise RecordError(str(exc)) from exc
    observer = JournalObserver(writer, {k: config.env[k] for k in redact_env
                                        if k in config.env})
    t0 = time.monotonic_ns()
    try:
        writer.write_event(StartEvent(PID, tuple(header.argv), time.time_ns()))
        from .snapshots import JournalProcessEvents  # snapshots, forks (docs/snapshots.md)

        result = run(replace(config, observer=_tee(observer, config.observer),
                             process_events=JournalProcessEvents(writer)))
        elapsed = time.monotonic_ns() - t0
        if writer.failed is None:
            if result.trap is not None:
                writer.write_event(TrapEvent(PID, result.trap, elapsed))
            else:
                writer.write_event(ExitEvent(PID, result.exit_code, elapsed))
        writer.close()
    except JournalError as exc:
        writer.abort()
        raise RecordError(str(exc)) from exc
    except BaseException:
        writer.abort()  # a wasi-rr error or interrupt: leave a readable, truncated journal
        raise
    if writer.failed is not None:
        raise RecordError(str(writer.failed))
    return result


# -- command line ------------------------------------------------------------------

def _record_main(args: Any) -> int:
    from .cmd_run import config_from_args, report

    meta: dict[str, Any] = {}
    for spec in args.meta:
        key, sep, value = spec.partition("=")
        if not key or not sep:
            from .errors import ConfigError

            raise ConfigError(f"bad --meta {spec!r}: expected KEY=VALUE")
        meta[key] = value
    from .snapshots import policy_from_args

    config = config_from_args(args, snapshots=policy_from_args(args))
    if config.dirs and args.capture_fs:
        _capture_into(meta, config)
    result = record(config, args.output, embed_module=not args.no_embed_module,
                    redact_env=args.redact_env, meta=meta,
                    input_hash_threshold=None if args.full_inputs else args.hash_inputs_over)
    return report(result)


def _capture_into(meta: dict[str, Any], config: RunConfig) -> None:
    """Store the mounted host directories' initial contents for ``replay --verify``.

    On by default because a journal that cannot be verified surprises its user
    later, on another machine; a tree too large for a journal is skipped with a
    warning (verbatim replay never needs it).
    """
    import sys

    from .replay.fscapture import CAPTURE_KEY, CaptureError, capture_dirs

    try:
        meta[CAPTURE_KEY] = capture_dirs(config.dirs)
    except (CaptureError, OSError) as exc:
        print(f"wasi-rr: warning: host directories not captured ({exc}); "
              "'replay --verify' will not be available for this journal", file=sys.stderr)


def add_record_parser(subparsers: Any) -> Any:
    """Add ``record -o JOURNAL [run options] MODULE [ARGS...]`` to the subcommands."""
    from .cmd_run import add_run_options

    parser = subparsers.add_parser(
        "record", help="run a WASI command and journal every syscall",
        description="Run a WASI command like 'run' and write a self-contained journal "
                    "(module embedded) that 'replay' re-drives; exit with the guest's status.")
    parser.add_argument("-o", "--output", required=True, metavar="JOURNAL",
                        help="the journal file to write (.wrr)")
    parser.add_argument("--no-embed-module", action="store_true",
                        help="leave the module out of the journal (replay then needs --module)")
    parser.add_argument("--redact-env", action="append", default=[], metavar="NAME",
                        help="journal NAME's value as a same-length placeholder (the replayed "
                             "guest sees the placeholder)")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                        help="free-form metadata stored in the journal header")
    parser.add_argument("--hash-inputs-over", type=int, default=DEFAULT_INPUT_HASH_THRESHOLD,
                        metavar="BYTES",
                        help="store guest buffers larger than this as a sha256 (default "
                             f"{DEFAULT_INPUT_HASH_THRESHOLD}; stdout/stderr always in full)")
    parser.add_argument("--full-inputs", action="store_true",
                        help="store every guest buffer in full")
    parser.add_argument("--no-capture-fs", dest="capture_fs", action="store_false",
                        help="do not store the --dir directories' initial contents (by "
                             "default they are, up to 16 MiB, so 'replay --verify' works)")
    from .snapshots import add_snapshot_options

    add_snapshot_options(parser)
    add_run_options(parser)
    parser.set_defaults(func=_record_main)
    return parser
