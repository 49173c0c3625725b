"""``wasi-rr resume JOURNAL [--snapshot ID] [--dir HOST::GUEST ...] [-o JOURNAL2]``.

Continues a recorded guest LIVE from one of its snapshots, in this (fresh)
wasi-rr process: memory, globals and the wasm stack come back through an
asyncify rewind, the ``WasiFs`` from its frozen state, and the guest goes on
with the syscall it was stopped at. Nothing before the snapshot is redone:
output already produced is not produced again. Each resume is independent,
so resuming twice from one snapshot gives two separate continuations (a fork).

Host mounts are re-bound **by guest path**: ``--dir HOST::GUEST`` (or
``--dir-overlay``) names the host directory to use for the frozen mount at
GUEST; a mount without such an option uses the host path it was recorded
with, and if that is not a directory here the resume stops with one error
line. The mount keeps its recorded mode (an overlay keeps its in-memory
upper layer).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack

from .api import RunConfig, RunResult, build_kernel, make_group, run_group
from .cmd_run import parse_dir, report
from .errors import ConfigError, ModuleError, WasiRrError
from .exitcodes import ExitStatus
from wasi_rr.host.kernel.freeze import FreezeError
from wasi_rr.host.kernel.hostdir import MountError, MountMode
from wasi_rr.host.runtime.process import make_engine
from wasi_rr.host.runtime.snapshot import SnapshotError
from wasi_rr.host.kernel.wasifs import WasiFs
from .record import JournalRecorder
from .journal import (
    JournalWriteError,
    ExitEvent,
    ForkEvent,
    JournalError,
    JournalWriter,
    SnapshotEvent,
    StartEvent,
    TrapEvent,
    open_journal,
)
from .snapshots import (
    JournalProcessEvents,
    LoadedSnapshot,
    add_snapshot_options,
    journal_error,
    list_snapshots,
    load_snapshot,
    member_to_wire,
    policy_from_args,
)

__all__ = ["resume", "rebind_mounts", "print_snapshot_list", "add_parser"]


def rebind_mounts(frozen: bytes, dirs: dict[str, Path]) -> bytes:
    """The frozen ``WasiFs`` with host mounts re-bound by guest path (see module doc)."""
    try:
        image = msgpack.unpackb(frozen, raw=False, strict_map_key=False)
        mounts = image["mounts"]
    except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
        raise ConfigError(f"snapshot holds an unreadable filesystem image: {exc}") from None
    unused = dict(dirs)
    for mount in mounts:
        guest, host = mount[0], mount[1]
        if host is None:
            if guest in unused:
                raise ConfigError(f"--dir for {guest}: that guest path was an in-memory "
                                  "(tmpfs) mount when the snapshot was taken")
            continue
        chosen = unused.pop(guest, None)
        path = Path(chosen) if chosen is not None else Path(host)
        if not path.is_dir():
            hint = f"--dir {path}::{guest}: not a directory" if chosen is not None else (
                f"the snapshot needs a host directory for guest path {guest} (recorded "
                f"from {host}, missing here): pass --dir HOST::{guest}")
            raise ConfigError(hint)
        mount[1] = str(path.resolve())
    if unused:
        raise ConfigError(f"--dir for {', '.join(sorted(unused))}: the snapshot has no host "
                          "mount at that guest path")
    return msgpack.packb(image, use_bin_type=True)  # type: ignore[no-any-return]


def resume(journal: str, snapshot_id: int | None, config: RunConfig, *,
           mounts: dict[str, Path] | None = None, output: str | None = None,
           module: bytes | None = None) -> RunResult:
    """Continue the journal's snapshot live (``config`` gives stdio, caches, the
    snapshot policy of the resumed run; argv/env come from the journal)."""
    try:
        loaded = load_snapshot(journal, snapshot_id)
    except JournalError as exc:
        raise journal_error(journal, exc) from None
    wasm = module if module is not None else loaded.module
    if wasm is None:
        raise ModuleError(f"{journal} does not embed its module: pass --module PATH")
    header = loaded.header
    argv = list(header.argv) or [header.module_name or "module"]
    config = replace(config, module=Path(header.module_name or journal), args=argv[1:],
                     argv0=argv[0], env=dict(header.env), dirs=[], tmpfs=[],
                     trap_unknown_imports=bool(header.options.get("trap_unknown_imports")))
    frozen = rebind_mounts(loaded.fs, mounts or {})
    try:
        family_fs = WasiFs.unfreeze_family(frozen)
    except (FreezeError, MountError) as exc:
        raise ConfigError(f"cannot restore the snapshot's filesystem: {exc}") from None
    fs = family_fs[0]
    recorder = _resume_recorder(output, loaded, wasm) if output else None
    writer = recorder.writer if recorder is not None else None
    engine = make_engine()
    try:
        if recorder is not None:
            config = replace(config, recorder=recorder,
                             process_events=JournalProcessEvents(
                                 recorder, first_id=2, base=(loaded.pid, 1, loaded.snapshot)))
        group = make_group(config, engine, wasm)
        kernels = [build_kernel(config, fs=f) for f in family_fs]
        kernel = kernels[0]
        try:
            if loaded.family:  # a fork family: every process comes back
                group.restore_family(loaded.family, loaded.order, kernels)
            else:
                group.spawn(kernel, snapshot=loaded.snapshot, seq=loaded.seq, pid=loaded.pid)
        except SnapshotError as exc:
            for f in family_fs:
                f.close()
            fs.close_mounts()
            raise ConfigError(f"cannot resume snapshot {loaded.id}: {exc}") from None
        t0 = time.monotonic_ns()
        result = run_group(config, engine, group, kernel)
        if recorder is not None:
            elapsed = time.monotonic_ns() - t0
            recorder.event(TrapEvent(1, result.trap, elapsed) if result.trap is not None
                           else ExitEvent(1, result.exit_code, elapsed))
            recorder.writer.close(syscalls=recorder.syscalls())
    except JournalError as exc:
        if writer is not None:
            writer.abort()
        raise journal_error(output, exc) from None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return result


def _resume_recorder(output: str, loaded: LoadedSnapshot, wasm: bytes) -> JournalRecorder:
    """A journal for the resumed run: the original header, the snapshot it starts
    from (full, id 1), then the live syscalls from the snapshot's seq on."""
    header = replace(loaded.header, meta={**loaded.header.meta,
                                          "resumed_from_snapshot": loaded.id},
                     module_sha256="", extra={})
    extra: dict[str, Any] = {}
    if loaded.family:
        extra["family"] = [member_to_wire(m, loaded.snapshot) for m in loaded.family]
        extra["order"] = list(loaded.order)
    try:
        writer = JournalWriter(output, header, module=wasm)
        recorder = JournalRecorder(writer)
        writer.write_event(StartEvent(1, tuple(header.argv), time.time_ns()))
        for m in loaded.family:  # the process tree as it was, for `ps`
            if m.pid != 1:
                argv = tuple(a.decode("utf-8", "replace") for a in m.argv)
                writer.write_event(ForkEvent(m.ppid, m.pid, 0))
                writer.write_event(StartEvent(m.pid, argv, time.time_ns()))
                if m.snapshot is None:
                    writer.write_event(TrapEvent(m.pid, m.trap) if m.trap is not None
                                       else ExitEvent(m.pid, m.exit_code or 0))
        writer.write_event(SnapshotEvent(loaded.pid, 1, loaded.seq, loaded.trigger,
                                         loaded.snapshot.to_bytes(), loaded.fs,
                                         module_sha256=loaded.snapshot.module_sha256,
                                         time_unix_ns=time.time_ns(), extra=extra))
        recorder.set_process(loaded.pid, loaded.seq)
    except (JournalError, JournalWriteError) as exc:
        raise journal_error(output, exc) from None
    return recorder


def print_snapshot_list(journal: str) -> int:
    """``resume --list`` / ``dump --snapshots``: one line per snapshot."""
    try:
        infos = list_snapshots(journal)
    except JournalError as exc:
        raise journal_error(journal, exc) from None
    print(f"{'ID':>4} {'PID':>4} {'SEQ':>8} {'TRIGGER':<8} {'BASE':>4} {'SIZE':>10} {'FS':>8}")
    for i in infos:
        base = "-" if i.base is None else str(i.base)
        print(f"{i.id:>4} {i.pid:>4} {i.seq:>8} {i.trigger:<8} {base:>4} "
              f"{i.snapshot_bytes:>10} {i.fs_bytes:>8}")
    return 0


RESUME_AT_KEY = "wasi_rr.resume_at"
"""Header meta of a journal written by the debugger's ``snapshot -o`` for a module
without memory snapshots: resume it at this syscall by re-execution."""


def resume_at_cli(journal: str, seq: int, config: RunConfig, mounts: dict[str, Path],
                  module: str | None) -> RunResult:
    """``resume --at SEQ``: a memory snapshot taken exactly there if the journal has
    one (the fast path), else re-execution up to SEQ; one line says which."""
    from .replay.debug.reexec import resume_at

    try:
        infos = list_snapshots(journal)
    except (JournalError, WasiRrError):
        infos = []
    exact = [i for i in infos if i.seq == seq and i.pid == 1]
    if exact:
        print(f"wasi-rr: resuming at syscall #{seq} from memory snapshot {exact[-1].id}",
              file=sys.stderr, flush=True)
        wasm = Path(module).read_bytes() if module is not None else None
        return resume(journal, exact[-1].id, config, mounts=mounts, module=wasm)
    print(f"wasi-rr: resuming at syscall #{seq} by re-executing the journal up to it",
          file=sys.stderr, flush=True)
    with _open_header(journal) as header:
        argv = list(header.argv) or [header.module_name or "module"]
        run_config = replace(config, module=Path(header.module_name or journal),
                             args=argv[1:], argv0=argv[0], env=dict(header.env))
    status, trap = resume_at(journal, seq, mounts,
                             lambda fs: build_kernel(run_config, fs=fs), module=module)
    if trap is not None:
        return RunResult(int(ExitStatus.TRAP), trap)
    return RunResult(status)


class _open_header:
    """The journal's header (``with``), as a one-line error when unreadable."""

    def __init__(self, journal: str) -> None:
        self.journal = journal

    def __enter__(self) -> Any:
        try:
            self.reader = open_journal(self.journal)
        except OSError as exc:
            raise WasiRrError(f"cannot open journal {self.journal}: {exc.strerror}") from None
        except JournalError as exc:
            raise journal_error(self.journal, exc) from None
        return self.reader.header

    def __exit__(self, *exc: object) -> None:
        self.reader.close()


def _main(args: argparse.Namespace) -> int:
    if args.list:
        return print_snapshot_list(args.journal)
    if args.at is not None and args.snapshot is not None:
        raise ConfigError("--at and --snapshot: give one of them")
    if args.at is not None and args.output:
        raise ConfigError("--at with -o is not supported yet (record the resumed run with "
                          "`wasi-rr record` on the branch's journal instead)")
    mounts: dict[str, Path] = {}
    for spec, mode in [(d, MountMode.WRITE_THROUGH) for d in args.dirs] + \
                      [(d, MountMode.OVERLAY) for d in args.overlay_dirs]:
        d = parse_dir(spec, mode)
        mounts[d.guest] = d.host
    module = None
    if args.module is not None:
        try:
            module = Path(args.module).read_bytes()
        except OSError as exc:
            raise ModuleError(f"cannot read module {args.module}: {exc.strerror}") from None
    config = RunConfig(module=Path(args.journal), interruptible=True,
                       snapshots=policy_from_args(args))
    at = args.at
    if at is None and args.snapshot is None:
        with _open_header(args.journal) as header:
            branch = header.meta.get(RESUME_AT_KEY)
        if isinstance(branch, int):
            at = branch
    if at is not None:
        return report(resume_at_cli(args.journal, at, config, mounts, args.module))
    result = resume(args.journal, args.snapshot, config, mounts=mounts, output=args.output,
                    module=module)
    return report(result)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "resume", help="continue a recorded guest live from one of its snapshots",
        description="Restore a journal's snapshot (memory, stack, filesystem) in this process "
                    "and continue the guest live from the syscall it was taken at.")
    parser.add_argument("--snapshot", type=int, default=None, metavar="ID",
                        help="the snapshot to resume (default: the last one)")
    parser.add_argument("--at", type=int, default=None, metavar="SEQ",
                        help="continue live from syscall SEQ of any journal: from a memory "
                             "snapshot taken there, else by re-executing the journal up to it")
    parser.add_argument("--list", action="store_true",
                        help="list the journal's snapshots (id, pid, seq, trigger, sizes)")
    parser.add_argument("-o", "--output", metavar="JOURNAL2", default=None,
                        help="record the resumed run into this journal")
    parser.add_argument("--module", metavar="PATH", default=None,
                        help="the module, for a journal recorded with --no-embed-module")
    parser.add_argument(
        "--dir", dest="dirs", action="append", default=[], metavar="HOST::GUEST",
        help="re-bind the snapshot's host mount at GUEST to HOST")
    parser.add_argument(
        "--dir-overlay", dest="overlay_dirs", action="append", default=[],
        metavar="HOST::GUEST", help="same as --dir (the mount keeps its recorded mode)")
    add_snapshot_options(parser)
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.set_defaults(func=_main)
    return parser
