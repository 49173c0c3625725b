"""Helpers of the replay tests: record a corpus guest, rewrite a journal, run the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from wasi_rr.api import RunConfig, RunResult
from wasi_rr.journal import (
    Call,
    CtxEvent,
    Entry,
    ExitEvent,
    JournalHeader,
    JournalWriter,
    StartEvent,
    TrapEvent,
    open_journal,
)
from wasi_rr.record import record
from wasi_rr.replay import ReplayResult

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / "corpus" / "traces"


@dataclass
class Recorded:
    journal: Path
    result: RunResult
    stdout: bytes
    stderr: bytes


def record_guest(wasm: Path, journal: Path, *, args: Iterable[str] = (),
                 env: dict[str, str] | None = None, tmpfs: Iterable[str] = (),
                 stdin: bytes = b"", argv0: str = "guest.wasm", **kwargs: object) -> Recorded:
    out, err = io.BytesIO(), io.BytesIO()
    config = RunConfig(module=wasm, args=list(args), env=dict(env or {}), tmpfs=list(tmpfs),
                       stdin=io.BytesIO(stdin), stdout=out, stderr=err, argv0=argv0)
    result = record(config, journal, **kwargs)  # type: ignore[arg-type]
    return Recorded(journal, result, out.getvalue(), err.getvalue())


def read_all(journal: Path) -> tuple[JournalHeader, bytes | None, list[Entry]]:
    with open_journal(journal) as r:
        return r.header, r.module_bytes(), list(r)


def rewrite_journal(src: Path, dst: Path,
                    transform: Callable[[list[Entry]], list[Entry]],
                    *, flush_every: int | None = None) -> Path:
    """Copy ``src`` to ``dst`` with its entries passed through ``transform``
    (a way to fabricate journals that a guest cannot match); ``flush_every``
    cuts a frame every that many entries."""
    header, module, entries = read_all(src)
    with JournalWriter(dst, header, module=module, input_hash_threshold=None,
                       background=False) as w:
        for n, e in enumerate(transform(entries)):
            if flush_every and n and n % flush_every == 0:
                w.flush()
            if isinstance(e, Call):
                w.write_call(e)
            else:
                assert isinstance(e, (StartEvent, ExitEvent, TrapEvent, CtxEvent))
                w.write_event(e)
    return dst


def wasi_rr(*args: str | os.PathLike[str], cwd: Path, stdin: bytes = b"",
            cache_dir: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI in a subprocess (as a user would) from ``cwd`` (with its own
    compiled-module cache: ``cache_dir``, as on another machine)."""
    env = dict(os.environ)
    env.pop("WASI_RR_DEBUG", None)
    if cache_dir is not None:
        env["WASI_RR_CACHE_DIR"] = str(cache_dir)
    return subprocess.run([sys.executable, "-m", "wasi_rr", *map(str, args)], cwd=cwd,
                          input=stdin, capture_output=True, timeout=120, env=env)


def build_variant(source: str, tmp: Path, name: str, **defines: int) -> Path:
    """Compile C ``source`` with each ``#define KEY value`` line replaced by the
    given values (a guest whose N-th call differs, for divergence tests)."""
    import pytest
    from guestbuild import GuestBuildError, compile_source

    for key, value in defines.items():
        old = f"#define {key} "
        line = next(ln for ln in source.splitlines() if ln.startswith(old))
        source = source.replace(line, f"{old}{value}")
    try:
        return compile_source(source, tmp, name, strip=False)
    except GuestBuildError as exc:
        pytest.fail(f"cannot build {name}: {exc}")
        raise  # (pytest.fail raises)


def assert_same_report(a_result: ReplayResult, b_result: ReplayResult) -> None:
    """Two replays stopped with the same divergence report (fast paths on vs off)."""
    a, b = a_result.divergence, b_result.divergence
    assert a is not None and b is not None
    assert (a.kind, a.seq, a.summary, a.expected, a.actual, a.fields, a.history) == \
        (b.kind, b.seq, b.summary, b.expected, b.actual, b.fields, b.history)
    assert [str(f) for f in a.backtrace] == [str(f) for f in b.backtrace]
    assert a_result.entries_consumed == b_result.entries_consumed
