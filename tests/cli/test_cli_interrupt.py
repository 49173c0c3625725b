"""Ctrl-C and --timeout with real processes: a ``wasi-rr`` subprocess gets SIGINT
once its guest printed a marker (never after a fixed delay), with generous
timeouts only as a safety net.

* ``record`` stopped while the guest spins or blocks on stdin: status 130, one
  line, a journal that ends with an ``interrupted`` exit, readable by ``dump``;
  its replay reproduces what was recorded, stops by itself and exits 130;
* ``replay`` and ``resume`` of a guest spinning without syscalls stop on SIGINT;
* ``replay --timeout`` stops a runaway replay with status 124.

What a recording holds of its last moment is asserted against the journal
itself: SIGINT may land while the call that printed the marker is still in
wasi-rr (its output is out, its record not yet written), and then that call
is not journaled, so the replay's output is the journal's output, which is the
marker's output or all before it.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import Call, ExitEvent, open_journal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "replay"))

from replay_helpers import build_variant

SPIN_OUT = b"started\ncomputing\nspinning now\n"
INTERRUPTED = b"wasi-rr: interrupted\n"
SAFETY = 120.0
"""Seconds before a test gives up on a process (never reached when things work)."""


_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'wasi_rr', *sys.argv[1:]])")
"""A test runner may ignore SIGINT, and an ignored signal stays ignored across
exec: this trampoline sets it back to its default, then becomes ``wasi-rr``."""


def start(*args: str | Path, cwd: Path, stdin: int | None = subprocess.DEVNULL
          ) -> subprocess.Popen[bytes]:
    """``wasi-rr ARGS`` with SIGINT at its default."""
    return subprocess.Popen(
        [sys.executable, "-c", _WITH_DEFAULT_SIGINT, *map(str, args)], cwd=cwd, stdin=stdin,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(proc: subprocess.Popen[bytes], marker: bytes) -> bytes:
    """Read the process's stdout until ``marker`` appeared; what was read."""
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + SAFETY
    while marker not in seen:
        left = deadline - time.monotonic()
        chunk = None
        if left > 0 and select.select([proc.stdout], [], [], min(left, 1.0))[0]:
            chunk = os.read(proc.stdout.fileno(), 65536)
            seen += chunk
        if left <= 0 or chunk == b"":  # out of time, or stdout closed: it exited
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"no {marker!r} on stdout (got {seen!r}; stderr {err!r})")
    return seen


def interrupt(proc: subprocess.Popen[bytes], seen: bytes) -> tuple[int, bytes, bytes]:
    """SIGINT, then the exit status, all of stdout and stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=SAFETY)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, seen + out, err


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wasi_rr", *map(str, args)], cwd=cwd,
                          capture_output=True, timeout=SAFETY, check=False)


def journal_stdout(path: Path) -> tuple[bytes, ExitEvent | None]:
    """What the journal says reached stdout, and its last entry if an exit."""
    out = b""
    last = None
    with open_journal(path) as r:
        for e in r:
            last = e
            if isinstance(e, Call) and e.name == "fd_write" and e.params[0] == 1:
                out += b"".join(d for _, d in e.inputs[1:])
    return out, last if isinstance(last, ExitEvent) else None


def assert_interrupted_journal(path: Path, cwd: Path, must_start: bytes) -> bytes:
    """Ends ``interrupted``, ``dump --stats`` reads it, and every replay mode
    reproduces its output, stops by itself and exits 130 with one line."""
    written, ending = journal_stdout(path)
    assert ending is not None and ending.interrupted
    assert ending.status == ExitStatus.INTERRUPTED
    assert written.startswith(must_start)
    stats = run("dump", "--stats", path, cwd=cwd)
    assert stats.returncode == 0 and b"total" in stats.stdout, stats.stderr
    for mode in ([], ["--slow"], ["--verify"]):
        rep = run("replay", *mode, path, cwd=cwd)
        assert (rep.returncode, rep.stdout) == (ExitStatus.INTERRUPTED, written), (mode, rep)
        assert rep.stderr.count(b"\n") == 1
        assert rep.stderr.startswith(b"wasi-rr: the recording was interrupted (Ctrl-C)")
    return written


@pytest.fixture
def spin(guest: Callable[[str], Path]) -> Path:
    return guest("spin")


@pytest.fixture
def forever(tmp_path: Path) -> Path:
    """spin.c built to never stop (same syscalls as ``spin N`` up to the marker)."""
    source = (Path(__file__).resolve().parents[2] / "corpus" / "spin.c").read_text()
    return build_variant(source, tmp_path, "spin_forever", FOREVER=1)


def test_record_of_a_spinning_guest(spin: Path, tmp_path: Path) -> None:
    proc = start("record", "-o", "s.wrr", spin, cwd=tmp_path)
    status, out, err = interrupt(proc, wait_for(proc, b"spinning now\n"))
    assert (status, out, err) == (ExitStatus.INTERRUPTED, SPIN_OUT, INTERRUPTED)
    assert_interrupted_journal(tmp_path / "s.wrr", tmp_path, b"started\ncomputing\n")


def test_record_of_a_guest_blocked_on_stdin(guest: Callable[[str], Path],
                                            tmp_path: Path) -> None:
    proc = start("record", "-o", "c.wrr", guest("stdin_cat"), cwd=tmp_path,
                 stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(b"first line\n")
    proc.stdin.flush()
    seen = wait_for(proc, b"first line\n")  # now blocked reading the open pipe
    status, out, err = interrupt(proc, seen)
    proc.stdin.close()
    assert (status, out, err) == (ExitStatus.INTERRUPTED, b"first line\n", INTERRUPTED)
    journal = tmp_path / "c.wrr"
    with open_journal(journal) as r:
        reads = [e for e in r if isinstance(e, Call) and e.name == "fd_read"]
    assert any(data == b"first line\n" for _, data in reads[0].writes)
    assert_interrupted_journal(journal, tmp_path, b"")


def test_replay_of_a_spinning_guest_stops_on_ctrl_c(spin: Path, forever: Path,
                                                    tmp_path: Path) -> None:
    rec = run("record", "-o", "s.wrr", spin, "1000", cwd=tmp_path)
    assert (rec.returncode, rec.stdout) == (0, SPIN_OUT + b"done\n"), rec.stderr
    # --slow: every answer goes through Python, which prints at once; the wasm
    # replayer prints at its next return to Python, which a runaway never makes
    # (--timeout below stops the wasm path the same way: the engine's epoch)
    proc = start("replay", "--slow", "--module", forever, "s.wrr", cwd=tmp_path)
    status, out, err = interrupt(proc, wait_for(proc, b"spinning now\n"))
    assert (status, out) == (ExitStatus.INTERRUPTED, SPIN_OUT)
    assert err.endswith(INTERRUPTED)
    assert err.count(b"\n") == 2 and b"is not the recorded module" in err  # + the warning


def test_replay_timeout_stops_a_runaway(spin: Path, forever: Path, tmp_path: Path) -> None:
    rec = run("record", "-o", "s.wrr", spin, "1000", cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    rep = run("replay", "--timeout", "0.5", "--module", forever, "s.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (ExitStatus.TIMEOUT, SPIN_OUT)
    warning, error = rep.stderr.decode().splitlines()
    assert "is not the recorded module" in warning
    assert error == ("wasi-rr: error: the replay did not finish within 0.5 s "
                     "(stopped at syscall #6)")
    ok = run("replay", "--timeout", "60", "s.wrr", cwd=tmp_path)  # a replay that ends
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, rec.stdout, b"")


def test_resume_of_a_spinning_guest_stops_on_ctrl_c(spin: Path, tmp_path: Path) -> None:
    """resume (a process group, live) and its -o journal behave as record does;
    the -o journal's replay (a group replay from its snapshot) stops by itself."""
    proc = start("record", "-o", "s.wrr", "--snapshot-every", "2", spin, cwd=tmp_path)
    status, _, _ = interrupt(proc, wait_for(proc, b"spinning now\n"))
    assert status == ExitStatus.INTERRUPTED
    proc = start("resume", "--snapshot", "2", "-o", "more.wrr", "s.wrr", cwd=tmp_path)
    status, out, err = interrupt(proc, wait_for(proc, b"spinning now\n"))
    assert (status, out, err) == (ExitStatus.INTERRUPTED, b"computing\nspinning now\n",
                                  INTERRUPTED)
    written, ending = journal_stdout(tmp_path / "more.wrr")
    assert ending is not None and ending.interrupted and written.startswith(b"computing\n")
    rep = run("replay", "more.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (ExitStatus.INTERRUPTED, written), rep.stderr
    assert rep.stderr.count(b"\n") == 1
