"""Workers that die and traces that hang: reported for that trace, the run goes on,
and no trace is lost or reported twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from check_helpers import (
    KILL_ALWAYS,
    KILL_ONCE,
    Corpus,
    install_kill_hook,
    local_kill_hook_initializer,
    uninstall_kill_hook,
    wasi_rr,
)

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.replay.check import CheckReport, LocalPool, TraceStatus, check

SMALL = 30
"""Passing traces next to the special ones (enough to keep both workers busy)."""
TIMEOUT = 3.0
"""Seconds per trace in the timeout tests: a hundred times a small trace's replay
(the test suite's other processes share the two cores), a tenth of the spin."""


def small_corpus(corpus: Corpus, root: Path, *specials: tuple[Path, str]) -> list[str]:
    """``SMALL`` passing journals of ``corpus`` and the specials, copied under ``root``."""
    good = sorted(p for p, s in corpus.expected.items() if s is TraceStatus.PASSED)
    paths = []
    for i, src in enumerate(good[:: len(good) // SMALL][:SMALL]):
        dst = root / f"t{i:02d}.wrr"
        shutil.copyfile(src, dst)
        paths.append(str(dst))
    for src, name in specials:
        shutil.copyfile(src, root / name)
        paths.append(str(root / name))
    return paths


def assert_each_once(report: CheckReport, paths: list[str]) -> None:
    counts = Counter(t.path for t in report.traces)
    assert counts == Counter(paths)  # none lost, none twice


def _a_good(corpus: Corpus) -> Path:
    return Path(next(p for p, s in corpus.expected.items() if s is TraceStatus.PASSED))


def test_local_worker_killed_mid_trace_is_retried(corpus: Corpus, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    paths = small_corpus(corpus, tmp_path, (_a_good(corpus), KILL_ONCE))
    with LocalPool(2, initializer=local_kill_hook_initializer(str(markers))) as pool:
        report = check(paths, executor=pool)
        died = pool.stats.died
    assert_each_once(report, paths)
    assert died == 1 and (markers / "killed").exists()  # the worker really died mid-trace
    # The whole task the worker died in goes back to the queue, each trace alone: the
    # culprit and whichever traces shared its batch (how many depends on journal sizes).
    assert report.ok and 1 <= report.retried <= 4
    assert report.retried == sum(t.attempts - 1 for t in report.traces)
    killed = next(t for t in report.traces if t.path.endswith(KILL_ONCE))
    assert killed.attempts == 2 and killed.status is TraceStatus.PASSED


def test_local_worker_dying_on_every_try_is_an_error(corpus: Corpus, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    paths = small_corpus(corpus, tmp_path, (_a_good(corpus), KILL_ALWAYS))
    with LocalPool(2, initializer=local_kill_hook_initializer(str(markers))) as pool:
        report = check(paths, executor=pool)
        died = pool.stats.died
    assert_each_once(report, paths)
    assert died == 2
    bad = next(t for t in report.traces if t.path.endswith(KILL_ALWAYS))
    assert bad.status is TraceStatus.ERROR and bad.attempts == 2
    assert "worker died 2 times" in bad.message and "exit code 17" in bad.message
    assert report.count(TraceStatus.PASSED) == SMALL
    assert report.exit_status == ExitStatus.TOOL_ERROR


def test_dask_worker_killed_mid_run(corpus: Corpus, fresh_dask_client: Any,
                                    tmp_path: Path) -> None:
    client = fresh_dask_client
    markers = tmp_path / "markers"
    markers.mkdir()
    paths = small_corpus(corpus, tmp_path, (_a_good(corpus), KILL_ONCE))
    before = set(client.scheduler_info()["workers"])
    client.run(install_kill_hook, str(markers))
    try:
        report = check(paths, executor=client, batch=4)
    finally:
        client.run(uninstall_kill_hook)
    assert_each_once(report, paths)
    assert (markers / "killed").exists()
    # the nanny replaced the dead worker: one address is gone
    client.wait_for_workers(2, timeout=120)
    assert set(client.scheduler_info()["workers"]) != before
    # Dask's scheduler re-ran the lost task on a live worker (else check would have)
    assert report.ok, [(t.path, t.message) for t in report.failures()]


def test_local_timeout_retires_the_worker(corpus: Corpus, spinning_journal: Path,
                                          tmp_path: Path) -> None:
    paths = small_corpus(corpus, tmp_path, (spinning_journal, "spinning.wrr"))
    with LocalPool(2) as pool:
        report = check(paths, executor=pool, timeout=TIMEOUT, batch=4)
        stats = pool.stats
    assert_each_once(report, paths)
    spun = next(t for t in report.traces if t.path.endswith("spinning.wrr"))
    assert spun.status is TraceStatus.TIMEOUT and f"within {TIMEOUT:g} s" in spun.message
    assert spun.seconds >= TIMEOUT
    # the watchdog answered; the worker with the spinning thread exited after its reply
    assert (stats.retired, stats.started, stats.died, stats.timed_out) == (1, 3, 0, 0)
    assert report.count(TraceStatus.PASSED) == SMALL
    assert report.exit_status == ExitStatus.TOOL_ERROR


def test_local_backstop_kills_a_hung_batch(corpus: Corpus, spinning_journal: Path,
                                           tmp_path: Path) -> None:
    # no watchdog (no timeout given to check): the pool's own deadline kills the
    # batch; its traces are tried again alone, and the spinning one times out alone
    paths = small_corpus(corpus, tmp_path, (spinning_journal, "spinning.wrr"))
    with LocalPool(2, task_timeout=TIMEOUT) as pool:
        report = check(paths, executor=pool, batch=4)
        stats = pool.stats
    assert_each_once(report, paths)
    spun = next(t for t in report.traces if t.path.endswith("spinning.wrr"))
    assert spun.status is TraceStatus.TIMEOUT and spun.attempts == 2
    assert (stats.timed_out, stats.started, stats.died) == (2, 4, 0)
    assert report.count(TraceStatus.PASSED) == SMALL
    assert 1 <= report.retried <= 4  # the spinning trace's batch, put back one by one


def test_cli_timeout(corpus: Corpus, spinning_journal: Path, tmp_path: Path) -> None:
    paths = small_corpus(corpus, tmp_path, (spinning_journal, "spinning.wrr"))
    proc = wasi_rr("check", "-j", "2", "--timeout", str(TIMEOUT), *paths, cwd=tmp_path)
    assert proc.returncode == ExitStatus.TOOL_ERROR, proc.stdout + proc.stderr
    assert f"{SMALL} passed, 0 diverged, 0 damaged, 0 error, 1 timeout" in proc.stdout
    assert "timeout " in proc.stdout and "spinning.wrr" in proc.stdout


def test_dask_timeout_restarts_the_worker(corpus: Corpus, spinning_journal: Path,
                                          fresh_dask_client: Any, tmp_path: Path) -> None:
    client = fresh_dask_client
    paths = small_corpus(corpus, tmp_path, (spinning_journal, "spinning.wrr"))
    report = check(paths, executor=client, timeout=TIMEOUT, batch=4)
    assert_each_once(report, paths)
    spun = next(t for t in report.traces if t.path.endswith("spinning.wrr"))
    assert spun.status is TraceStatus.TIMEOUT
    assert report.count(TraceStatus.PASSED) == SMALL
    client.wait_for_workers(2, timeout=120)
    assert spun.worker not in client.scheduler_info()["workers"]  # restarted: new address


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_timeout_must_be_positive(corpus: Corpus, bad: float) -> None:
    from wasi_rr.replay.check import CheckError

    with pytest.raises(CheckError):
        check([corpus.root], timeout=bad)


def _processes_in_group(pgid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_ctrl_c_stops_the_run_and_its_workers(corpus: Corpus, spinning_journal: Path,
                                              tmp_path: Path) -> None:
    paths = small_corpus(corpus, tmp_path, (spinning_journal, "spinning.wrr"))
    proc = subprocess.Popen([sys.executable, "-m", "wasi_rr", "check", "-j", "2", *paths],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the workers are replaying
        assert first.startswith("passed"), first
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert err.strip().endswith("wasi-rr: interrupted") and "Traceback" not in err
    deadline = time.monotonic() + 10
    while _processes_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_in_group(proc.pid) == []  # no worker left spinning
