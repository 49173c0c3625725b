"""Replay's lean callbacks (replay/fastpath.py ``callback_for``): loops of
repeated calls are answered from compact repeats and runs, and a divergence
inside or right after such a loop is reported exactly as the slow path reports
it (same seq, expected, actual, differing fields, history, backtrace)."""

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

from wasi_rr.journal import Entry, SyscallEntry
from wasi_rr.replay import DivergenceKind, ReplayResult, replay
from wasi_rr.replay import fastpath
from wasi_rr.replay.backend import JournalBackend
from wasi_rr.replay.cursor import JournalCursor

N = 300
LOOPS_C = r"""
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#define N 300
#define CHANGE_AT -1
#define SEEK_TO 0
#define CHANGE2_AT -1
#define STAT_AT -1
/* globals, volatile: the variants differ only in these values, so the
   compiler lays the builds out alike (same addresses, same loop code) */
static char rec[17] = "0123456789abcdef";
static volatile int change_at = CHANGE_AT;
static volatile long seek_to = SEEK_TO;
static volatile int change2_at = CHANGE2_AT;
static char tail[4] = "xyz";
static volatile int stat_at = STAT_AT;
static char spath[] = "/data/f.bin";
int main(void) {
    int fd = open("/data/f.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 2;
    for (int i = 0; i < N; i++) {
        if (i == change_at) rec[0] = 'X';
        if (write(fd, rec, 16) != 16) return 3;
        rec[0] = '0';
    }
    lseek(fd, seek_to, SEEK_SET);
    char buf[16];
    for (int i = 0; i < N; i++)
        if (read(fd, buf, 16) != 16 || memcmp(buf, rec, 16)) return 4;
    /* two buffers per call, then a buffer overlapping its own iovec array */
    struct iovec two[2] = {{rec, 4}, {tail, 3}};
    for (int i = 0; i < 40; i++) {
        if (i == change2_at) tail[1] = 'Q';
        writev(fd, two, 2);
        tail[1] = 'y';
    }
    struct iovec self[1];
    self[0].iov_base = self;
    self[0].iov_len = sizeof self;
    for (int i = 0; i < 40; i++) writev(fd, self, 1);
    struct timespec ts;
    for (int i = 0; i < 40; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
    for (int i = 0; i < 20; i++) write(1, "same line\n", 10);
    struct stat sb;
    for (int i = 0; i < 40; i++) {
        if (i == stat_at) spath[6] = 'g';
        stat(spath, &sb);
        spath[6] = 'f';
    }
    close(fd);
    return 0;
}
"""




def _build_loops(tmp: Path, name: str, **defines: int) -> Path:
    return build_variant(LOOPS_C, tmp, name, **defines)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("lean")
    return {"base": _build_loops(tmp, "loops"),
            "in_run": _build_loops(tmp, "loops_in_run", CHANGE_AT=150),
            "run_start": _build_loops(tmp, "loops_run_start", CHANGE_AT=2),
            "after_run": _build_loops(tmp, "loops_after_run", SEEK_TO=1),
            "two_bufs": _build_loops(tmp, "loops_two_bufs", CHANGE2_AT=20),
            "stat": _build_loops(tmp, "loops_stat", STAT_AT=30)}


@pytest.fixture(scope="module")
def recorded(builds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("lean_rec")
    return record_guest(builds["base"], tmp / "loops.wrr", tmpfs=["/data"])


def _syscalls(journal: Path) -> list[SyscallEntry]:
    return [e for e in read_all(journal)[2] if isinstance(e, SyscallEntry)]


def _replay(journal: Path, module: Path | None = None) -> tuple[ReplayResult, bytes]:
    out = BytesIO()
    result = replay(journal, module=module, stdout=out, stderr=BytesIO())
    return result, out.getvalue()


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the calls that reached ``FastReplay.call_for``'s functions and
    ``JournalBackend.call`` (everything the lean callbacks declined)."""
    counts = {"fast": 0, "backend": 0}
    call_for = fastpath.FastReplay.call_for
    backend_call = JournalBackend.call

    def counted_call_for(self: fastpath.FastReplay, sig: Any) -> Callable[..., Any]:
        fn = call_for(self, sig)

        def counted(params: tuple[int, ...]) -> int | None:
            counts["fast"] += 1
            return fn(params)
        return counted

    def counted_backend(self: JournalBackend, call: Any) -> int:
        counts["backend"] += 1
        return backend_call(self, call)

    monkeypatch.setattr(fastpath.FastReplay, "call_for", counted_call_for)
    monkeypatch.setattr(JournalBackend, "call", counted_backend)
    return counts


@pytest.fixture
def slow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fast path at all: every call goes through ``JournalBackend``."""
    monkeypatch.setattr(fastpath.FastReplay, "callback_for",
                        lambda self, sig, handler, default: None)
    monkeypatch.setattr(fastpath.FastReplay, "call_for",
                        lambda self, sig: (lambda params: None))


def test_loops_are_answered_by_the_lean_callbacks(recorded: Any,
                                                   counting: dict[str, int]) -> None:
    syscalls = _syscalls(recorded.journal)
    assert len(syscalls) > 2 * N + 180
    result, out = _replay(recorded.journal)
    assert result.ok and result.exit_code == 0
    assert result.entries_consumed == len(syscalls)
    assert out == recorded.stdout == b"same line\n" * 20
    # the loops went through the lean callbacks: only the calls around them
    # (start-up, loop boundaries, the 20 writes to stdout) took a slower path
    assert counting["fast"] < 60, counting
    assert counting["backend"] < 10, counting




def _without_fast_paths(monkeypatch: pytest.MonkeyPatch, journal: Path,
                        module: Path) -> ReplayResult:
    """The same replay with the lean callbacks and ``call_for`` switched off:
    every call takes the adapter's observed path into ``JournalBackend``."""
    with monkeypatch.context() as m:
        m.setattr(fastpath.FastReplay, "callback_for", lambda self, sig, handler, default: None)
        m.setattr(fastpath.FastReplay, "call_for", lambda self, sig: (lambda params: None))
        slow, _ = _replay(journal, module)
    return slow


def _first_write_seq(journal: Path) -> int:
    return next(e.seq for e in _syscalls(journal) if e.name == "fd_write")


@pytest.mark.parametrize("variant, offset", [("in_run", 150), ("run_start", 2)])
def test_divergence_inside_a_loop_of_repeats(recorded: Any, builds: dict[str, Path],
                                             variant: str, offset: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = _replay(recorded.journal, builds[variant])
    seq = _first_write_seq(recorded.journal) + offset
    d = fast.divergence
    assert d is not None and d.kind is DivergenceKind.CALL_MISMATCH
    assert d.seq == seq
    assert [f.what for f in d.fields] == ["input iovs[0]"]
    assert "'X123456789abcdef'" in d.fields[0].actual
    # the history: the 5 calls before it, in order, with their sequence numbers
    assert [h.split(" ", 1)[0] for h in d.history] == [f"#{s}" for s in range(seq - 5, seq)]
    if offset == 2:  # across the batch boundary: open, writes before the loop's run
        assert "path_open(" in d.history[-3]
    assert all("fd_write(fd=" in h for h in d.history[-2:])
    slow = _without_fast_paths(monkeypatch, recorded.journal, builds[variant])
    assert_same_report(fast, slow)


def test_divergence_in_the_second_buffer_of_a_loop(recorded: Any, builds: dict[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = _replay(recorded.journal, builds["two_bufs"])
    d = fast.divergence
    assert d is not None and d.kind is DivergenceKind.CALL_MISMATCH
    assert d.seq == _first_write_seq(recorded.journal) + 2 * N + 1 + 20
    assert [f.what for f in d.fields] == ["input iovs[1]"]
    slow = _without_fast_paths(monkeypatch, recorded.journal, builds["two_bufs"])
    assert_same_report(fast, slow)


def test_divergence_in_a_path_loop(recorded: Any, builds: dict[str, Path],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = _replay(recorded.journal, builds["stat"])
    d = fast.divergence
    assert d is not None and d.kind is DivergenceKind.CALL_MISMATCH
    stats = [e.seq for e in _syscalls(recorded.journal) if e.name == "path_filestat_get"]
    assert len(stats) == 40 and d.seq == stats[30]
    assert [f.what for f in d.fields] == ["input path"]
    slow = _without_fast_paths(monkeypatch, recorded.journal, builds["stat"])
    assert_same_report(fast, slow)


def test_divergence_right_after_a_loop(recorded: Any, builds: dict[str, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = _replay(recorded.journal, builds["after_run"])
    d = fast.divergence
    assert d is not None and d.kind is DivergenceKind.CALL_MISMATCH
    assert d.seq == _first_write_seq(recorded.journal) + N
    assert [f.what for f in d.fields] == ["param offset"]
    assert len(d.history) == 5 and all("fd_write(fd=" in h for h in d.history)
    slow = _without_fast_paths(monkeypatch, recorded.journal, builds["after_run"])
    assert_same_report(fast, slow)


def test_repeats_spread_over_many_frames(recorded: Any, builds: dict[str, Path],
                                         tmp_path: Path) -> None:
    """Frames cut every 37 entries: runs and compact repeats end at every frame
    boundary, and the replay (and a divergence's report) is unchanged."""
    cut = rewrite_journal(recorded.journal, tmp_path / "cut.wrr", lambda es: es,
                          flush_every=37)
    assert _syscalls(cut) == _syscalls(recorded.journal)
    result, out = _replay(cut)
    assert result.ok and out == recorded.stdout
    whole, _ = _replay(recorded.journal, builds["in_run"])
    split, _ = _replay(cut, builds["in_run"])
    assert_same_report(split, whole)


def test_verify_still_re_executes_every_call(recorded: Any, counting: dict[str, int]) -> None:
    result = replay(recorded.journal, verify=True, stdout=BytesIO(), stderr=BytesIO())
    assert result.ok, result.divergence and result.divergence.report()
    assert counting["backend"] == result.entries_consumed
    assert result.verified > 2 * N


def test_cursor_history_spans_batches() -> None:
    def entries() -> Iterator[Entry]:  # one batch per entry
        for s in range(20):
            yield SyscallEntry(s, "wasi_snapshot_preview1", "sched_yield", (), (), 0, (), 1)
    cursor = JournalCursor(entries())
    for _ in range(12):
        assert cursor.next_syscall() is not None
    assert cursor.consumed == 12
    assert [e.seq for e in cursor.recent(5)] == [7, 8, 9, 10, 11]
    assert [e.seq for e in cursor.recent(5, skip=1)] == [6, 7, 8, 9, 10]
    assert cursor.remaining() == 8 and cursor.consumed == 20


RENUMBER_C = r"""
#include <fcntl.h>
#include <unistd.h>
#include <wasi/api.h>
int main(void) {
    int fd = open("/data/log.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 2;
    for (int i = 0; i < 10; i++) write(fd, "to the file\n", 12);
    /* stdout moves onto fd: the same call (same params, same bytes) is now
       output, and the journal keeps it as a repeat of the entries above
       (fewer than codec.MIN_RUN each: one batch, no run) */
    if (__wasi_fd_renumber(1, fd) != 0) return 3;
    for (int i = 0; i < 10; i++) write(fd, "to the file\n", 12);
    return 0;
}
"""


def test_a_cached_write_that_becomes_stdout_is_output(tmp_path: Path) -> None:
    wasm = build_variant(RENUMBER_C, tmp_path, "renumber_loop")
    rec = record_guest(wasm, tmp_path / "r.wrr", tmpfs=["/data"])
    assert rec.result.exit_code == 0 and rec.stdout == b"to the file\n" * 10
    writes = [e for e in _syscalls(rec.journal) if e.name == "fd_write"]
    assert len({(e.params, e.inputs) for e in writes}) == 1  # one template throughout
    result, out = _replay(rec.journal)
    assert result.ok and out == rec.stdout


GROW_C = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    int fd = open("/data/g.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 2;
    for (int round = 0; round < 3; round++) {
        /* each round grows the memory, then loops over a buffer in the new part */
        char *big = malloc(24 << 20);
        if (!big) return 3;
        char *tail = big + (24 << 20) - 64;
        memcpy(tail, "grown memory....", 16);
        for (int i = 0; i < 50; i++) write(fd, tail, 16);
        lseek(fd, 0, SEEK_SET);
        for (int i = 0; i < 50; i++) read(fd, tail + 16, 16);
    }
    return 0;
}
"""


def test_loops_in_memory_the_guest_grew(tmp_path: Path, counting: dict[str, int]) -> None:
    wasm = build_variant(GROW_C, tmp_path, "grow_loop")
    rec = record_guest(wasm, tmp_path / "g.wrr", tmpfs=["/data"])
    assert rec.result.exit_code == 0
    result, _ = _replay(rec.journal)
    assert result.ok and result.entries_consumed == len(_syscalls(rec.journal))
    assert counting["fast"] < 40, counting  # of ~300 calls
