"""WASIX processes end to end through the CLI: fork, pipes between parent and
child, join, proc_id/proc_parent; recorded, replayed (the interleaving comes
from the journal) and listed by ``wasi-rr ps``."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from wasi_rr.api import RunConfig, run
from wasi_rr.journal import Call, ForkEvent, SnapshotEvent, StartEvent, open_journal
from wasi_rr.replay import replay as replay_group

PIPE_OUT = (b"parent pid 1\n"
            b"parent got: child 2 of 1 got 28 bytes: HELLO CHILD\nSECOND LINE\nBYE\n"
            b"join errno 0 pid 2 tag 1 code 7\n"
            b"join again errno 12\n")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wasi_rr", *args], cwd=cwd,
                          capture_output=True, timeout=120)


def test_fork_gives_each_process_its_memory(guest: Callable[[str], Path]) -> None:
    out = io.BytesIO()
    result = run(RunConfig(module=guest("snapshot_fork"), stdout=out, stderr=io.BytesIO()))
    assert result.exit_code == 0 and result.trap is None
    assert out.getvalue().decode().splitlines() == [
        "child pid=0 err=0 counter=16 heap=before-fork+child",
        "parent pid=2 err=0 counter=115 heap=before-fork+parent",
    ]


def test_parent_and_child_talk_over_pipes(guest: Callable[[str], Path]) -> None:
    out = io.BytesIO()
    result = run(RunConfig(module=guest("wasix_fork_pipe"), stdout=out, stderr=io.BytesIO()))
    assert (result.exit_code, result.trap) == (0, None)
    assert out.getvalue() == PIPE_OUT


def test_record_replay_and_ps(guest: Callable[[str], Path], tmp_path: Path) -> None:
    wasm = guest("wasix_fork_pipe")
    rec = cli("record", "-o", "p.wrr", str(wasm), cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout == PIPE_OUT
    with open_journal(tmp_path / "p.wrr") as r:
        entries = list(r)
    forks = [e for e in entries if isinstance(e, ForkEvent)]
    assert forks == [ForkEvent(1, 2, forks[0].seq)]
    assert [e.pid for e in entries if isinstance(e, StartEvent)] == [1, 2]
    pids = [e.pid for e in entries if isinstance(e, Call)]
    assert set(pids) == {1, 2}
    # the processes interleave: the parent runs again while the child waits on its pipe
    switches = sum(1 for a, b in pairwise(pids) if a != b)
    assert switches >= 2
    child_calls = [e for e in entries if isinstance(e, Call) and e.pid == 2]
    assert child_calls[0].name == "proc_fork" and child_calls[0].seq == 0

    rep = cli("replay", "p.wrr", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == PIPE_OUT

    ps = cli("ps", "p.wrr", cwd=tmp_path)
    assert ps.returncode == 0, ps.stderr
    rows = [line.split() for line in ps.stdout.decode().splitlines()]
    assert rows[0][:4] == ["PID", "PPID", "STATUS", "SYSCALLS"]
    assert [r[:3] for r in rows[1:]] == [["1", "0", "0"], ["2", "1", "7"]]
    assert all(r[4].endswith(".wasm") for r in rows[1:])


def test_replay_reports_a_changed_interleaving(guest: Callable[[str], Path],
                                                tmp_path: Path) -> None:
    """A journal whose child answers differently diverges on replay."""
    from wasi_rr.api import RunConfig
    from wasi_rr.record import record

    path = tmp_path / "p.wrr"
    record(RunConfig(module=guest("wasix_fork_pipe"), stdout=io.BytesIO(),
                     stderr=io.BytesIO()), path)
    good = replay_group(path, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert good.ok and good.exit_code == 0
    # same journal, replayed against the single-fork guest: the very first call differs
    bad = replay_group(path, module=guest("snapshot_fork"), stdout=io.BytesIO(),
                       stderr=io.BytesIO())
    assert not bad.ok and bad.divergence is not None


def test_wasix_fd_calls_record_and_replay_in_a_group(guest: Callable[[str], Path],
                                                      tmp_path: Path) -> None:
    """fd_dup/fd_dup2/fd_pipe behave the same on the instrumented path (snapshots
    on) as on the fast path, and the journal replays (also from a snapshot)."""
    from wasi_rr.api import DirMount
    from wasi_rr.host.runtime.procs import SnapshotPolicy
    from wasi_rr.record import record

    def config(data: Path, out: io.BytesIO, **kw: object) -> RunConfig:
        data.mkdir()
        return RunConfig(module=guest("wasix_fds"), args=["/data"], stdout=out,
                         stderr=io.BytesIO(), dirs=[DirMount(data, "/data")], **kw)  # type: ignore[arg-type]

    plain = io.BytesIO()
    assert run(config(tmp_path / "a", plain)).exit_code == 0
    assert b"fd_dup: OK" in plain.getvalue()
    recorded = io.BytesIO()
    result = record(config(tmp_path / "b", recorded, snapshots=SnapshotPolicy(every=7)),
                    tmp_path / "x.wrr")
    assert result.exit_code == 0
    assert recorded.getvalue() == plain.getvalue()
    for start in (None, 2):
        out = io.BytesIO()
        rep = replay_group(tmp_path / "x.wrr", from_snapshot=start, stdout=out,
                           stderr=io.BytesIO())
        assert rep.ok and rep.exit_code == 0
        assert plain.getvalue().endswith(out.getvalue()) and out.getvalue()


def test_deadlock_lets_the_lowest_pid_proceed(guest: Callable[[str], Path],
                                              tmp_path: Path) -> None:
    """Every process blocked: the parent's join gets EDEADLK, then the run goes on;
    a non-blocking join of a running child reports 'nothing'."""
    rec = cli("record", "-o", "d.wrr", str(guest("wasix_fork_deadlock")), cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    lines = rec.stdout.decode().splitlines()
    assert sorted(lines) == sorted([
        "nonblocking join: errno 0 tag 0",
        "blocking join while child waits on us: errno 16",
        "child read 7: wake up",
        "child read 0 (EOF)",
        "join after closing: errno 0 tag 1 code 3",
    ])
    rep = cli("replay", "d.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (0, rec.stdout), rep.stderr
    again = cli("run", str(guest("wasix_fork_deadlock")), cwd=tmp_path)
    assert again.stdout == rec.stdout  # the schedule is deterministic


def test_resume_before_fork_then_fork_live(guest: Callable[[str], Path], tmp_path: Path) -> None:
    """A snapshot taken before proc_fork (pipes frozen with it) resumes into a
    run that forks live; its -o journal replays with both processes."""
    wasm = guest("wasix_fork_pipe")
    rec = cli("record", "-o", "fp.wrr", "--snapshot-every", "2", str(wasm), cwd=tmp_path)
    assert rec.returncode == 0 and rec.stdout == PIPE_OUT, rec.stderr
    with open_journal(tmp_path / "fp.wrr") as r:
        entries = list(r)
    fork_at = next(e for e in entries if isinstance(e, ForkEvent)).seq
    first = next(e for e in entries if isinstance(e, SnapshotEvent))
    assert first.pid == 1 and first.seq < fork_at and not first.extra.get("family")
    res = cli("resume", "--snapshot", str(first.id), "-o", "fp2.wrr", "fp.wrr", cwd=tmp_path)
    assert (res.returncode, res.stdout) == (0, PIPE_OUT), res.stderr
    rep = cli("replay", "fp2.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (0, PIPE_OUT), rep.stderr
    ps = cli("ps", "fp2.wrr", cwd=tmp_path)
    assert [line.split()[:3] for line in ps.stdout.decode().splitlines()[1:]] == [
        ["1", "0", "0"], ["2", "1", "7"]]


def test_family_snapshots_resume_and_replay(guest: Callable[[str], Path], tmp_path: Path) -> None:
    """After a fork a snapshot holds every process (the others parked at their
    syscall, exited ones for join); resuming it brings the whole family back."""
    wasm = guest("wasix_fork_pipe")
    rec = cli("record", "-o", "fam.wrr", "--snapshot-every", "3", str(wasm), cwd=tmp_path)
    assert rec.returncode == 0 and rec.stdout == PIPE_OUT, rec.stderr
    with open_journal(tmp_path / "fam.wrr") as r:
        snaps = [e for e in r if isinstance(e, SnapshotEvent)]
    family = [e for e in snaps if e.extra.get("family")]
    assert {e.pid for e in family} == {1, 2}
    # one where the child is parked on its pipe, and one after the child exited
    parked = next(e for e in family if e.pid == 1 and any(m[5] for m in e.extra["family"]))
    after_exit = next(e for e in family if any(m[3] is None for m in e.extra["family"]))
    for snap in (parked, after_exit):
        where = tmp_path / f"s{snap.id}"
        where.mkdir()
        shutil.copy(tmp_path / "fam.wrr", where / "copy.wrr")
        res = cli("resume", "--snapshot", str(snap.id), "-o", "more.wrr", "copy.wrr", cwd=where)
        assert res.returncode == 0, res.stderr
        assert res.stdout and PIPE_OUT.endswith(res.stdout)
        rep = cli("replay", "--from-snapshot", str(snap.id), "copy.wrr", cwd=where)
        assert (rep.returncode, rep.stdout) == (0, res.stdout), rep.stderr
        again = cli("replay", "more.wrr", cwd=where)
        assert (again.returncode, again.stdout) == (0, res.stdout), again.stderr
        ps = cli("ps", "more.wrr", cwd=where)
        assert [line.split()[:2] for line in ps.stdout.decode().splitlines()[1:]] == [
            ["1", "0"], ["2", "1"]]


def test_child_redirecting_its_stdout_replays_only_the_real_output(
        guest: Callable[[str], Path], tmp_path: Path) -> None:
    """Which fds are stdout is tracked per process on replay."""
    rec = cli("record", "-o", "r.wrr", str(guest("wasix_fork_redirect")), cwd=tmp_path)
    want = b"before fork\nparent read 28 bytes: child output, into the pipe\n"
    assert (rec.returncode, rec.stdout) == (0, want), rec.stderr
    rep = cli("replay", "r.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (0, want), rep.stderr


def test_poll_on_a_pipe_waits_for_the_other_process(guest: Callable[[str], Path],
                                                     tmp_path: Path) -> None:
    """poll_oneoff on a pipe only the child fills parks the parent (no 10 s timeout)."""
    rec = cli("record", "-o", "po.wrr", str(guest("wasix_fork_poll")), cwd=tmp_path)
    assert (rec.returncode, rec.stdout) == (0, b"poll 1 revents POLLIN read 4 ping\n"), rec.stderr
    rep = cli("replay", "po.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (0, rec.stdout), rep.stderr


def test_many_short_lived_children(guest: Callable[[str], Path], tmp_path: Path) -> None:
    """Exited processes keep only what join/ps need (their instances are dropped)."""
    rec = cli("record", "-o", "m.wrr", str(guest("wasix_fork_many")), cwd=tmp_path)
    assert (rec.returncode, rec.stdout) == (0, b"sum 4950\n"), rec.stderr
    ps = cli("ps", "m.wrr", cwd=tmp_path)
    rows = [line.split() for line in ps.stdout.decode().splitlines()[1:]]
    assert len(rows) == 101
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        (str(i + 2), "1", str(i)) for i in range(100)]
    rep = cli("replay", "m.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (0, rec.stdout), rep.stderr
