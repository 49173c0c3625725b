"""``record``: run a guest like ``wasi_rr.run`` and journal every syscall."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from wasi_rr.api import RunConfig, RunResult, needs_group, refuse_uninstrumentable, run
from wasi_rr.errors import ConfigError, ModuleError, WasiRrError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.runtime.process import (
    ModuleBytes,
    ModuleCache,
    default_cache_dir,
    read_module_file,
)
from wasi_rr.journal import (
    ExitEvent,
    JournalError,
    JournalWriteError,
    JournalWriter,
    StartEvent,
    TrapEvent,
)
from wasi_rr.journal.writer import DEFAULT_INPUT_HASH_THRESHOLD

from .header import journal_header
from .recorder import MIN_SECRET_BYTES, JournalRecorder

__all__ = ["PID", "RecordError", "end_interrupted", "record"]

PID = 1
"""The pid of the recorded process (the first and, without fork, only one)."""


class RecordError(WasiRrError):
    """The journal could not be written (disk full, permission denied...)."""

    status = ExitStatus.TOOL_ERROR


def _secrets(config: RunConfig, names: list[str]) -> dict[str, str]:
    """The values to redact; refused (one line) when redaction cannot keep them
    out of the journal: too short to replace safely, or with snapshots, which
    hold the guest's memory and files as they are (the real value in them)."""
    secrets = {k: config.env[k] for k in names if k in config.env}
    if secrets and config.snapshots:
        raise ConfigError("--redact-env cannot be combined with snapshots: a snapshot holds "
                          "the guest's memory and files, where the real value is")
    for name, value in secrets.items():
        if len(value.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"--redact-env {name}: its value is shorter than "
                              f"{MIN_SECRET_BYTES} bytes; replacing it everywhere would "
                              "also change unrelated bytes of the journal")
    return secrets


def record(config: RunConfig, journal_path: str | os.PathLike[str], *,
           embed_module: bool = True, redact_env: Iterable[str] = (),
           meta: Mapping[str, Any] | None = None,
           input_hash_threshold: int | None = DEFAULT_INPUT_HASH_THRESHOLD,
           fast: bool = True) -> RunResult:
    """Run ``config`` like ``wasi_rr.run`` and write its journal to ``journal_path``.

    ``embed_module=False`` leaves the module out (replay then needs ``--module``;
    the header still names its SHA-256). Raises ``RecordError`` if the journal
    cannot be written, ``WasiRrError`` subclasses for bad modules/configs like
    ``run``; a guest trap or exit is a result, journaled as an event. Ctrl-C
    ends the journal with an exit event marked ``interrupted`` and re-raises.
    ``fast=False`` journals every call in Python (no wasm recorder): the same
    journal, byte for byte, more slowly; for ruling the wasm recorder out.
    """
    wasm = config.wasm or ModuleBytes(read_module_file(Path(config.module)))
    redact_env = list(redact_env)
    secrets = _secrets(config, redact_env)
    if needs_group(config, wasm.data):  # refused in ms: no journal, nothing compiled
        refuse_uninstrumentable(config, wasm.data)
    header = journal_header(config, module=wasm, redact_env=redact_env, meta=meta)
    cache = (ModuleCache(config.cache_dir if config.cache_dir is not None else default_cache_dir())
             if config.use_cache else None)
    try:
        writer = JournalWriter(journal_path, header,
                               module=wasm.data if embed_module else None,
                               module_sha256=wasm.sha256, blob_cache=cache,
                               input_hash_threshold=input_hash_threshold)
    except (JournalError, JournalWriteError) as exc:
        raise RecordError(str(exc)) from exc
    recorder = JournalRecorder(writer, secrets, wasm=fast)
    t0 = time.monotonic_ns()
    try:
        recorder.event(StartEvent(PID, tuple(header.argv), time.time_ns()))
        from wasi_rr.snapshots import JournalProcessEvents  # snapshots, forks

        result = run(replace(config, wasm=wasm, recorder=recorder,
                             process_events=JournalProcessEvents(recorder)))
        _finish(recorder, result, time.monotonic_ns() - t0)
    except KeyboardInterrupt:
        end_interrupted(recorder, time.monotonic_ns() - t0)
        raise
    except (JournalError, JournalWriteError) as exc:
        writer.abort()
        raise RecordError(str(exc)) from exc
    except (ModuleError, ConfigError):
        # raised while compiling, linking or configuring, before the guest runs:
        # a journal holding only its header would replay as "truncated", which
        # misleads more than no journal at all
        writer.abort()
        Path(journal_path).unlink(missing_ok=True)
        raise
    except BaseException:
        writer.abort()  # a wasi-rr error: leave a readable, truncated journal
        raise
    if writer.failed is not None:
        raise RecordError(str(writer.failed))
    return result


def _finish(recorder: JournalRecorder, result: RunResult, elapsed: int) -> None:
    writer = recorder.writer
    if writer.failed is None:
        if result.trap is not None:
            recorder.event(TrapEvent(PID, result.trap, elapsed))
        else:
            recorder.event(ExitEvent(PID, result.exit_code, elapsed))
    writer.close(syscalls=recorder.syscalls())


def end_interrupted(recorder: JournalRecorder, elapsed: int) -> None:
    """Ctrl-C: close the journal properly, ending with an ``interrupted`` exit,
    so everything recorded so far replays (and ``dump --stats`` reads it);
    ``record`` and ``resume -o`` both end this way."""
    writer = recorder.writer
    try:
        recorder.event(ExitEvent(recorder.pid or PID, int(ExitStatus.INTERRUPTED), elapsed,
                                 interrupted=True))
        writer.close(syscalls=recorder.syscalls())
    except (JournalError, JournalWriteError):
        writer.abort()
