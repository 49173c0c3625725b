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

The other options of ``run`` that change how the module is linked or run are
accepted, each with the only meaning it can have for a guest already running
(README, resume options): ``--trap-unknown-imports`` links as ``run`` does;
``--env`` and ``--argv0`` change what the guest will read, so they are refused
(one line) when a process read its environment / arguments before the
snapshot, since the guest keeps its own copy; ``--tmpfs`` is refused, since the
guest listed its preopens when it started (the snapshot's mounts come back).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wasi_rr.host.kernel.freeze import FreezeError
from wasi_rr.host.kernel.hostdir import MountError, MountMode
from wasi_rr.host.kernel.wasifs import WasiFs
from wasi_rr.host.runtime.process import make_engine
from wasi_rr.host.runtime.snapshot import SnapshotError
from wasi_rr.host.table import Startup

from .api import RunConfig, RunResult, build_kernel, make_group, run_group
from .argtypes import non_negative_int, positive_int
from .cmd_run import parse_dir, parse_env, report
from .errors import ConfigError, ModuleError, WasiRrError
from .exitcodes import ExitStatus
from .journal import (
    ExitEvent,
    ForkEvent,
    JournalError,
    JournalWriteError,
    JournalWriter,
    SnapshotEvent,
    StartEvent,
    TrapEvent,
    open_journal,
)
from .record import JournalRecorder, end_interrupted
from .snapshots import (
    JournalProcessEvents,
    LoadedSnapshot,
    add_snapshot_options,
    first_call_before,
    journal_error,
    list_snapshots,
    load_snapshot,
    member_to_wire,
    policy_from_args,
    rebind_mounts,
)

__all__ = ["Overrides", "add_parser", "print_snapshot_list", "resume"]

@dataclass(frozen=True)
class Overrides:
    """What a resume changes about how the guest runs (see the module docstring)."""

    env: dict[str, str] = field(default_factory=dict)
    """Variables set on top of the recorded environment."""
    argv0: str | None = None
    trap_unknown_imports: bool = False


def _refuse_if_read(journal: str, loaded: LoadedSnapshot, option: str, what: str,
                    startup: Startup) -> None:
    """``option`` would change ``what`` the guest reads: refused (one line) when a
    process already read it before the snapshot (it keeps its own copy)."""
    if loaded.header.meta.get("resumed_from_snapshot") is not None:
        raise ConfigError(f"{option}: {journal} was written by 'resume -o' and does not hold "
                          f"the calls before its snapshot, so whether the guest read {what} "
                          "cannot be told; resume the original journal instead")
    try:
        call = first_call_before(journal, loaded.id, startup)
    except JournalError as exc:
        raise journal_error(journal, exc) from None
    if call is not None:
        raise ConfigError(f"{option}: the guest read {what} before snapshot {loaded.id} "
                          f"({call.name}, syscall #{call.seq} of pid {call.pid}) and keeps "
                          "its own copy: a change would not reach it")


def _resumed_config(journal: str, loaded: LoadedSnapshot, config: RunConfig,
                    overrides: Overrides) -> RunConfig:
    """``config`` with argv, environment and linking from the journal, changed by
    ``overrides`` where the snapshot allows it."""
    header = loaded.header
    argv = list(header.argv) or [header.module_name or "module"]
    env = dict(header.env)
    if overrides.env:
        _refuse_if_read(journal, loaded, "--env", "its environment", Startup.ENV)
        env.update(overrides.env)
    if overrides.argv0 is not None:
        _refuse_if_read(journal, loaded, "--argv0", "its arguments", Startup.ARGS)
        argv[0] = overrides.argv0
    trap = bool(header.options.get("trap_unknown_imports")) or overrides.trap_unknown_imports
    return replace(config, module=Path(header.module_name or journal), args=argv[1:],
                   argv0=argv[0], env=env, dirs=[], tmpfs=[], trap_unknown_imports=trap)


def resume(journal: str, snapshot_id: int | None, config: RunConfig, *,
           mounts: dict[str, Path] | None = None, output: str | None = None,
           module: bytes | None = None, overrides: Overrides | None = None) -> RunResult:
    """Continue the journal's snapshot live (``config`` gives stdio, caches, the
    snapshot policy of the resumed run; argv/env come from the journal, changed
    by ``overrides`` where the snapshot allows it)."""
    try:
        loaded = load_snapshot(journal, snapshot_id)
    except JournalError as exc:
        raise journal_error(journal, exc) from None
    wasm = module if module is not None else loaded.module
    if wasm is None:
        raise ModuleError(f"{journal} does not embed its module: pass --module PATH")
    config = _resumed_config(journal, loaded, config, overrides or Overrides())
    frozen = rebind_mounts(loaded.fs, mounts or {})
    try:
        family_fs = WasiFs.unfreeze_family(frozen)
    except (FreezeError, MountError) as exc:
        raise ConfigError(f"cannot restore the snapshot's filesystem: {exc}") from None
    if output is None:
        return _run_resumed(config, loaded, wasm, family_fs)
    return _record_resumed(output, config, loaded, wasm, family_fs)


def _record_resumed(output: str, config: RunConfig, loaded: LoadedSnapshot, wasm: bytes,
                    family_fs: list[WasiFs]) -> RunResult:
    """``resume -o``: run and journal the continuation; its journal is closed with
    the run's ending, or ``interrupted`` on Ctrl-C (as ``record`` does)."""
    recorder = _resume_recorder(output, loaded, wasm, config)
    config = replace(config, recorder=recorder, process_events=JournalProcessEvents(
        recorder, first_id=2, base=(loaded.pid, 1, loaded.snapshot)))
    t0 = time.monotonic_ns()
    try:
        result = _run_resumed(config, loaded, wasm, family_fs)
        elapsed = time.monotonic_ns() - t0
        recorder.event(TrapEvent(1, result.trap, elapsed) if result.trap is not None
                       else ExitEvent(1, result.exit_code, elapsed))
        recorder.writer.close(syscalls=recorder.syscalls())
    except KeyboardInterrupt:
        end_interrupted(recorder, time.monotonic_ns() - t0)
        raise
    except JournalError as exc:
        recorder.writer.abort()
        raise journal_error(output, exc) from None
    except BaseException:
        recorder.writer.abort()
        raise
    return result


def _run_resumed(config: RunConfig, loaded: LoadedSnapshot, wasm: bytes,
                 family_fs: list[WasiFs]) -> RunResult:
    """Bring the snapshot's process (or family) back on ``family_fs`` and run it."""
    engine = make_engine()
    group = make_group(config, engine, wasm)
    kernels = [build_kernel(config, fs=f) for f in family_fs]
    try:
        if loaded.family:  # a fork family: every process comes back
            group.restore_family(loaded.family, loaded.order, kernels)
        else:
            group.spawn(kernels[0], snapshot=loaded.snapshot, seq=loaded.seq, pid=loaded.pid)
    except SnapshotError as exc:
        for f in family_fs:
            f.close()
        family_fs[0].close_mounts()
        raise ConfigError(f"cannot resume snapshot {loaded.id}: {exc}") from None
    return run_group(config, engine, group, kernels[0])


def _resume_recorder(output: str, loaded: LoadedSnapshot, wasm: bytes,
                     config: RunConfig) -> JournalRecorder:
    """A journal for the resumed run: the original header (with what the resume
    changed), the snapshot it starts from (full, id 1), then the live syscalls
    from the snapshot's seq on. (No redaction to carry on: ``record`` refuses
    ``--redact-env`` with snapshots.)"""
    old = loaded.header
    header = replace(old, meta={**old.meta, "resumed_from_snapshot": loaded.id},
                     module_sha256="", extra={},
                     argv=[config.argv0 or "", *config.args],
                     env=list(config.env.items()),
                     options={**old.options,
                              "trap_unknown_imports": config.trap_unknown_imports})
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


def _overrides(args: argparse.Namespace) -> Overrides:
    """The run options given to ``resume`` (``--tmpfs`` refused: module docstring)."""
    if args.tmpfs:
        raise ConfigError(f"--tmpfs {args.tmpfs[0]}: a resumed guest listed its preopens "
                          "when it started and would never see a new one (the snapshot's "
                          "own tmpfs mounts come back with their contents)")
    return Overrides(env=parse_env(args.envs), argv0=args.argv0,
                     trap_unknown_imports=args.trap_unknown_imports)


RESUME_AT_KEY = "wasi_rr.resume_at"
"""Header meta of a journal written by the debugger's ``snapshot -o`` for a module
without memory snapshots: resume it at this syscall by re-execution."""


def resume_at_cli(journal: str, seq: int, config: RunConfig, mounts: dict[str, Path],
                  module: str | None, overrides: Overrides | None = None) -> RunResult:
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
        return resume(journal, exact[-1].id, config, mounts=mounts, module=wasm,
                      overrides=overrides)
    if overrides is not None and (overrides.env or overrides.argv0 is not None):
        raise ConfigError(f"--env/--argv0 with --at {seq}: re-execution replays the guest's "
                          "start as recorded (it read its argv and environment then); they "
                          "apply only when a memory snapshot was taken at that syscall")
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
    overrides = _overrides(args)
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
        return report(resume_at_cli(args.journal, at, config, mounts, args.module, overrides))
    result = resume(args.journal, args.snapshot, config, mounts=mounts, output=args.output,
                    module=module, overrides=overrides)
    return report(result)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "resume", help="continue a recorded guest live from one of its snapshots",
        description="Restore a journal's snapshot (memory, stack, filesystem) in this process "
                    "and continue the guest live from the syscall it was taken at.")
    parser.add_argument("--snapshot", type=positive_int, default=None, metavar="ID",
                        help="the snapshot to resume (default: the last one)")
    parser.add_argument("--at", type=non_negative_int, default=None, metavar="SEQ",
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
    parser.add_argument(
        "--tmpfs", action="append", default=[], metavar="GUEST",
        help="refused: the guest listed its preopens when it started")
    parser.add_argument(
        "--env", dest="envs", action="append", default=[], metavar="NAME[=VAL]",
        help="set a variable on top of the recorded environment (NAME alone: inherit it); "
             "refused if the guest read its environment before the snapshot")
    parser.add_argument(
        "--argv0", metavar="NAME",
        help="argv[0] seen by the guest; refused if it read its arguments before the snapshot")
    parser.add_argument(
        "--trap-unknown-imports", action="store_true",
        help="link imports wasi-rr does not provide as traps, as 'run' does")
    add_snapshot_options(parser)
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.set_defaults(func=_main)
    return parser
