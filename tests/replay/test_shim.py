"""The replay shim (replay/shim.py) end to end: runs of repeats answered inside
wasm, and everything else exactly as without it (``replay(..., shim=False)``):
divergence reports, stdout, memory growth, journals cut in small frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from replay_helpers import (
    assert_same_report,
    build_variant,
    read_all,
    record_guest,
    rewrite_journal,
)

from wasi_rr.host.boundary import fastcall
from wasi_rr.journal import SyscallEntry
from wasi_rr.replay import DivergenceKind, ReplayResult, replay

N = 400
LOOPS_C = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>
#define N 400
#define CHANGE_AT -1
#define READ_CHANGE_AT -1
#define TRAP_AT -1
static char rec[17] = "0123456789abcdef";
static volatile int change_at = CHANGE_AT;
static volatile int read_change_at = READ_CHANGE_AT;
static volatile int trap_at = TRAP_AT;
int main(void) {
    int fd = open("/data/f.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 2;
    char *big = 0;
    for (int i = 0; i < N; i++) {
        if (i == change_at) rec[5] = 'X';
        if (i == trap_at) __builtin_trap();  /* wasm code ends the run: no syscall */
        if (write(fd, rec, 16) != 16) return 3;
        rec[5] = '5';
        /* the memory grows in the middle of the run (no syscall) */
        if (i == N / 2) { big = malloc(24 << 20); if (!big) return 5; big[0] = 1; }
    }
    lseek(fd, 0, SEEK_SET);
    char buf[16];
    for (int i = 0; i < N; i++) {
        char *to = i == read_change_at ? buf + 1 : buf;
        if (read(fd, to, 15) != 15) return 4;
    }
    /* a run whose buffer is in the grown memory */
    char *tail = big + (24 << 20) - 64;
    memcpy(tail, "grown memory....", 16);
    for (int i = 0; i < N; i++) write(fd, tail, 16);
    struct timespec ts;
    for (int i = 0; i < N; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
    for (int i = 0; i < 40; i++) write(1, "to stdout\n", 10);
    for (int i = 0; i < 40; i++) write(fd, "to the file\n", 12);
    /* stdout moves onto fd: the same call is now output */
    if (__wasi_fd_renumber(1, fd) != 0) return 6;
    for (int i = 0; i < 40; i++) write(fd, "to the file\n", 12);
    return 0;
}
"""




def _build_loops(tmp: Path, name: str, **defines: int) -> Path:
    return build_variant(LOOPS_C, tmp, name, **defines)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("shim")
    return {"base": _build_loops(tmp, "shim_loops"),
            "in_run": _build_loops(tmp, "shim_in_run", CHANGE_AT=150),
            "after_growth": _build_loops(tmp, "shim_after_growth", CHANGE_AT=N // 2 + 20),
            "run_end": _build_loops(tmp, "shim_run_end", CHANGE_AT=N - 3),
            "read": _build_loops(tmp, "shim_read", READ_CHANGE_AT=77),
            "trap": _build_loops(tmp, "shim_trap", TRAP_AT=120)}


@pytest.fixture(scope="module")
def recorded(builds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("shim_rec")
    rec = record_guest(builds["base"], tmp / "loops.wrr", tmpfs=["/data"])
    assert rec.result.exit_code == 0
    return rec


@pytest.fixture
def python_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the calls wasm makes into Python callbacks (every raw callback
    defined on any linker: the adapter's, and the shim's fallbacks)."""
    count = [0]
    define = fastcall.define_unchecked

    def counting(linker: Any, module: str, name: str, ty: Any,
                 callback: Callable[..., int]) -> Any:
        def counted(*args: Any) -> int:
            count[0] += 1
            return callback(*args)
        return define(linker, module, name, ty, counted)

    monkeypatch.setattr(fastcall, "define_unchecked", counting)
    yield count


def _replay(journal: Path, module: Path | None = None, *, shim: bool = True
            ) -> tuple[ReplayResult, bytes]:
    out = BytesIO()
    result = replay(journal, module=module, stdout=out, stderr=BytesIO(), shim=shim,
                    warn=lambda message: None)
    return result, out.getvalue()




def test_loops_are_answered_inside_wasm(recorded: Any, python_calls: list[int]) -> None:
    result, out = _replay(recorded.journal)
    assert result.ok and result.exit_code == 0, result.divergence and result.divergence.report()
    calls = result.entries_consumed
    assert calls > 4 * N
    assert out == recorded.stdout == b"to stdout\n" * 40 + b"to the file\n" * 40
    with_shim = python_calls[0]
    python_calls[0] = 0
    plain, plain_out = _replay(recorded.journal, shim=False)
    assert plain.ok and plain.entries_consumed == calls and plain_out == out
    assert python_calls[0] == calls  # without the shim, Python answers every call
    # with it: only the calls around the runs, the stdout writes (80: the
    # tracker must see each) and a few per run reach Python
    assert with_shim < 80 + 60, with_shim


@pytest.mark.parametrize("variant", ["in_run", "after_growth", "run_end", "read"])
def test_divergence_inside_an_armed_run(recorded: Any, builds: dict[str, Path],
                                        variant: str) -> None:
    """The N-th call of a run differs: the same report (seq, expected, actual,
    fields, history, backtrace) as without the shim."""
    shimmed, _ = _replay(recorded.journal, builds[variant])
    plain, _ = _replay(recorded.journal, builds[variant], shim=False)
    d = shimmed.divergence
    assert d is not None, variant
    assert_same_report(shimmed, plain)
    writes = [e.seq for e in read_all(recorded.journal)[2]
              if isinstance(e, SyscallEntry) and e.name == "fd_write"]
    reads = [e.seq for e in read_all(recorded.journal)[2]
             if isinstance(e, SyscallEntry) and e.name == "fd_read"]
    at = {"in_run": writes[150], "after_growth": writes[N // 2 + 20],
          "run_end": writes[N - 3], "read": reads[77]}
    assert d.seq == at[variant]
    if variant == "in_run":
        assert [f.what for f in d.fields] == ["input iovs[0]"]
        assert "'01234X6789abcdef'" in d.fields[0].actual
    if variant == "read":
        assert [f.what for f in d.fields] == ["input iovs (iovec array)"]


def test_a_trap_inside_an_armed_run(recorded: Any, builds: dict[str, Path]) -> None:
    """The guest traps in wasm while the shim is armed: the engine's final sync
    folds the shim's position, so the early end is reported at the next write."""
    shimmed, _ = _replay(recorded.journal, builds["trap"])
    plain, _ = _replay(recorded.journal, builds["trap"], shim=False)
    d = shimmed.divergence
    assert d is not None and d.kind is DivergenceKind.EARLY_END
    writes = [e.seq for e in read_all(recorded.journal)[2]
              if isinstance(e, SyscallEntry) and e.name == "fd_write"]
    assert d.seq == writes[120]
    assert_same_report(shimmed, plain)
    assert shimmed.trap == plain.trap is not None


def test_stdout_and_a_renumbered_fd_reach_the_output(recorded: Any) -> None:
    """Writes to stdout are never armed; a repeat that becomes stdout after
    ``fd_renumber`` is output too (the run before it was armed)."""
    result, out = _replay(recorded.journal)
    assert result.ok
    assert out.count(b"to stdout\n") == 40 and out.count(b"to the file\n") == 40


def test_a_journal_cut_in_small_frames(recorded: Any, builds: dict[str, Path],
                                       tmp_path: Path) -> None:
    """Frames cut every 23 entries: runs end at every frame boundary (armed for
    a few calls each, or not at all), and the replay and a divergence's report
    are unchanged."""
    cut = rewrite_journal(recorded.journal, tmp_path / "cut.wrr", lambda es: es,
                          flush_every=23)
    result, out = _replay(cut)
    assert result.ok and out == recorded.stdout
    assert result.entries_consumed == _replay(recorded.journal)[0].entries_consumed
    split, _ = _replay(cut, builds["in_run"])
    whole, _ = _replay(recorded.journal, builds["in_run"], shim=False)
    assert_same_report(split, whole)


def test_verify_builds_no_shim(recorded: Any, python_calls: list[int]) -> None:
    result = replay(recorded.journal, verify=True, stdout=BytesIO(), stderr=BytesIO())
    assert result.ok
    assert python_calls[0] == result.entries_consumed


def test_cli_no_shim(recorded: Any, python_calls: list[int],
                     capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    """``wasi-rr replay --no-shim`` answers every call in Python, with the same
    output and status as the default (shimmed) replay."""
    from wasi_rr.cli import main

    assert main(["replay", str(recorded.journal)]) == 0
    shimmed = python_calls[0]
    out = capfdbinary.readouterr().out
    python_calls[0] = 0
    assert main(["replay", "--no-shim", str(recorded.journal)]) == 0
    assert capfdbinary.readouterr().out == out == recorded.stdout
    syscalls = sum(isinstance(e, SyscallEntry) for e in read_all(recorded.journal)[2])
    assert python_calls[0] == syscalls  # without the shim, Python answers every call
    assert shimmed < syscalls // 2
