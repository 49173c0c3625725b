"""The parts of ``check`` on their own: discovery, the exit-status precedence, the
JUnit writer, the progress display, batching, and ``LocalPool`` as an executor."""

from __future__ import annotations

import io
import os
import select
import time
from concurrent.futures import wait
from pathlib import Path

import pytest
from junitparser import JUnitXml

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.replay.check import (
    CheckError,
    CheckReport,
    LocalPool,
    TaskTimeout,
    TraceResult,
    TraceStatus,
    WorkerDied,
    exit_status_for,
    find_journals,
)
from wasi_rr.replay.check.junit import write_junit
from wasi_rr.replay.check.progress import BarProgress, PlainProgress, make_progress
from wasi_rr.replay.check.runner import guided_batch


def test_discovery_rules(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for name in ["a/x.wrr", "a/b/y.wrr", "a/.tmp.wrr", "a/notes.txt", ".hidden/z.wrr"]:
        (tmp_path / name).write_bytes(b"j")
    named = tmp_path / "bug-1234.bin"
    named.write_bytes(b"jj")
    found = find_journals([tmp_path / "a", named, tmp_path / "a" / "x.wrr"])
    assert [(f.path, f.size) for f in found] == [
        (tmp_path / "a" / "b" / "y.wrr", 1), (tmp_path / "a" / "x.wrr", 1), (named, 2)]
    with pytest.raises(CheckError, match="no such file or directory"):
        find_journals([tmp_path / "missing"])
    assert [f.path for f in find_journals([tmp_path / ".hidden"])] == \
        [tmp_path / ".hidden" / "z.wrr"]  # named explicitly: searched
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("")
    with pytest.raises(CheckError, match="no journals"):
        find_journals([tmp_path / "empty"])


def _report(*statuses: TraceStatus) -> CheckReport:
    return CheckReport(tuple(TraceResult(f"t{i}.wrr", s, 0.01, "m" if s.value != "passed"
                                         else "") for i, s in enumerate(statuses)), 1.0)


@pytest.mark.parametrize(("statuses", "expected"), [
    ((TraceStatus.PASSED,), 0),
    ((TraceStatus.PASSED, TraceStatus.TIMEOUT), ExitStatus.TOOL_ERROR),
    ((TraceStatus.ERROR, TraceStatus.TIMEOUT), ExitStatus.TOOL_ERROR),
    ((TraceStatus.ERROR, TraceStatus.DAMAGED), ExitStatus.JOURNAL_ERROR),
    ((TraceStatus.DAMAGED, TraceStatus.DIVERGED, TraceStatus.ERROR), ExitStatus.DIVERGENCE),
])
def test_exit_status_precedence(statuses: tuple[TraceStatus, ...], expected: int) -> None:
    report = _report(*statuses)
    assert report.exit_status == expected == exit_status_for(report.counts)
    assert report.ok == (expected == 0)


def test_junit_counts_and_unprintable_bytes(tmp_path: Path) -> None:
    report = CheckReport((
        TraceResult("a.wrr", TraceStatus.PASSED, 0.5),
        TraceResult("b.wrr", TraceStatus.DIVERGED, 0.25, "divergence\nguest wrote b'\x00\x1b'"),
        TraceResult("c.wrr", TraceStatus.DAMAGED, 0.0, "journal truncated"),
        TraceResult("d.wrr", TraceStatus.TIMEOUT, 1.0, "too slow"),
    ), 2.0)
    out = tmp_path / "j.xml"
    write_junit(report, out)
    xml = JUnitXml.fromfile(str(out))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (4, 1, 2, 0)
    cases = {c.name: c for suite in xml for c in suite}
    failure = cases["b.wrr"].result[0]
    assert failure.type == "diverged" and "\\x00\\x1b" in failure.text
    assert [r.type for r in cases["d.wrr"].result] == ["timeout"]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_plain_lines_elsewhere() -> None:
    out, bar = io.StringIO(), _Tty()
    progress = make_progress(2, out, bar)
    assert isinstance(progress, BarProgress)
    progress(TraceResult("x.wrr", TraceStatus.PASSED, 0.1))
    progress(TraceResult("y.wrr", TraceStatus.DAMAGED, 0.1, "journal corrupt"))
    progress.close()
    assert "wasi-rr check" in bar.getvalue() and "2/2" in bar.getvalue()
    assert "1 failed" in bar.getvalue()
    assert "passed      0.100s  x.wrr" in out.getvalue()
    assert "    journal corrupt" in out.getvalue()
    plain = make_progress(2, io.StringIO(), io.StringIO(), quiet=True)
    assert isinstance(plain, PlainProgress)


def test_progress_lines_go_above_the_bar_on_a_shared_terminal() -> None:
    """stdout and stderr on one terminal: every line still appears, once, whole."""
    master, slave = os.openpty()
    out = os.fdopen(os.dup(slave), "w")
    bar = os.fdopen(os.dup(slave), "w")
    try:
        progress = make_progress(3, out, bar)
        assert isinstance(progress, BarProgress)
        for name in ("a.wrr", "b.wrr", "c.wrr"):
            progress(TraceResult(name, TraceStatus.PASSED, 0.1))
        progress.close()
        out.flush()
        bar.flush()
        seen = b""
        while select.select([master], [], [], 0.5)[0]:
            seen += os.read(master, 65536)
    finally:
        out.close()
        bar.close()
        os.close(slave)
        os.close(master)
    for name in (b"a.wrr", b"b.wrr", b"c.wrr"):
        assert seen.count(name) == 1


def test_guided_batches_shrink_to_one() -> None:
    assert guided_batch(10, 2, 1) == 1        # a cap of 1: one trace per task
    assert guided_batch(10**6, 200, 64) == 64  # capped
    assert guided_batch(600, 2, 64) == 64 and guided_batch(200, 2, 64) == 25
    assert guided_batch(7, 2, 64) == 1 and guided_batch(0, 2, 64) == 1
    remaining, sizes = 600, []
    while remaining:
        sizes.append(guided_batch(remaining, 2, 64))
        remaining -= sizes[-1]
    assert sizes == sorted(sizes, reverse=True) and sizes[-8:] == [1] * 8
    assert len(sizes) < 60  # vs 600 tasks of one trace


def _square(x: int) -> int:
    return x * x


def _die() -> None:
    os._exit(3)


def _raise() -> None:
    raise ValueError("from the task")


def test_local_pool_survives_dying_and_hanging_tasks() -> None:
    with LocalPool(2, task_timeout=3.0) as pool:
        dying, hanging, raising = pool.submit(_die), pool.submit(time.sleep, 60), \
            pool.submit(_raise)
        squares = [pool.submit(_square, i) for i in range(20)]
        wait([dying, hanging, raising, *squares], timeout=60)
        assert isinstance(dying.exception(), WorkerDied)
        assert "exit code 3" in str(dying.exception())
        assert isinstance(hanging.exception(), TaskTimeout)
        assert isinstance(raising.exception(), ValueError)
        assert [f.result() for f in squares] == [i * i for i in range(20)]
    # after shutdown (the replacements are started right after the futures fail)
    assert (pool.stats.died, pool.stats.timed_out, pool.stats.started) == (1, 1, 4)
    with pytest.raises(RuntimeError):
        pool.submit(_square, 1)
