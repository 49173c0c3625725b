"""Snapshots in the real product: ``record --snapshot-every/--snapshot-on``,
``resume`` in a fresh process from a copied journal, ``replay --from-snapshot``.

Every resume runs in an empty working directory with a copy of the journal, as a
user moving a journal to another machine would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wasi_rr.host.kernel.freeze import unfreeze_fs
from wasi_rr.journal import Call, SnapshotEvent, open_journal
from wasi_rr.snapshots import list_snapshots, load_snapshot


def cli(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "WASI_RR_DEBUG": "1"}
    return subprocess.run([sys.executable, "-m", "wasi_rr", *args], cwd=cwd, input=stdin,
                          capture_output=True, timeout=120, env=env)


def syscalls(path: Path) -> list[tuple[object, ...]]:
    with open_journal(path) as r:
        return [(e.seq, e.name, e.params, e.inputs, e.errno, e.writes) for e in r
                if isinstance(e, Call)]


@pytest.fixture()
def files_run(guest: Callable[[str], Path], tmp_path: Path) -> dict[str, object]:
    """An uninterrupted run of snapshot_files and a recording with snapshots."""
    wasm = guest("snapshot_files")
    for name in ("plain", "rec"):
        (tmp_path / name / "data").mkdir(parents=True)
        (tmp_path / name / "data" / "in.txt").write_text("hello from the host\n")
    plain = cli("record", "-o", "plain.wrr", "--tmpfs", "/tmp", "--dir", "data::/data",
                str(wasm), cwd=tmp_path / "plain")
    rec = cli("record", "-o", "j.wrr", "--snapshot-every", "4", "--tmpfs", "/tmp",
              "--dir", "data::/data", str(wasm), cwd=tmp_path / "rec")
    assert plain.returncode == rec.returncode == 5, rec.stderr
    return {"wasm": wasm, "plain": plain, "rec": rec, "tmp": tmp_path}


def test_record_with_snapshots_keeps_the_syscall_stream(files_run: dict[str, object]) -> None:
    tmp = files_run["tmp"]
    assert isinstance(tmp, Path)
    assert files_run["rec"].stdout == files_run["plain"].stdout  # type: ignore[attr-defined]
    # same syscalls, same pointers: snapshots add no seq and do not move memory
    plain, rec = syscalls(tmp / "plain" / "plain.wrr"), syscalls(tmp / "rec" / "j.wrr")
    strip = [(s[0], s[1], s[2]) for s in plain]
    assert strip == [(s[0], s[1], s[2]) for s in rec]
    infos = list_snapshots(tmp / "rec" / "j.wrr")
    assert [i.seq for i in infos] == list(range(4, 4 * (len(infos) + 1), 4))
    assert len(infos) >= 8
    assert infos[0].base is None and all(i.base == i.id - 1 for i in infos[1:])
    assert all(i.trigger == "every" for i in infos)
    # a replay of the journal recorded with snapshots uses the plain module
    rep = cli("replay", "j.wrr", cwd=tmp / "rec")
    assert rep.returncode == 5 and rep.stdout == files_run["plain"].stdout  # type: ignore[attr-defined]


def test_resume_equals_uninterrupted_run_and_is_repeatable(files_run: dict[str, object]) -> None:
    tmp = files_run["tmp"]
    assert isinstance(tmp, Path)
    full = files_run["plain"].stdout  # type: ignore[attr-defined]
    snap_id = 3  # seq 12: in the middle of the step loop, the tmpfs fd open
    outputs = []
    for n in range(2):
        where = tmp / f"resume{n}"
        (where / "data").mkdir(parents=True)
        (where / "data" / "in.txt").write_text("hello from the host\n")
        shutil.copy(tmp / "rec" / "j.wrr", where / "copy.wrr")
        res = cli("resume", "--snapshot", str(snap_id), "--dir", "data::/data", "copy.wrr",
                  cwd=where)
        assert res.returncode == 5, res.stderr
        outputs.append(res.stdout)
        # the side effect after the snapshot happened once, in the re-bound mount
        assert (where / "data" / "out.txt").read_text() == "appended by the guest\n"
    assert outputs[0] == outputs[1]
    # output before the snapshot is not produced again; the rest is identical
    assert outputs[0] and outputs[0] != full and full.endswith(outputs[0])
    assert b"tmpfs file has 56 bytes, last line step 7" in outputs[0]
    assert outputs[0].startswith(b"wrote step 1 ")


def test_resume_last_snapshot_by_default_and_missing_mount(files_run: dict[str, object]
                                                          ) -> None:
    tmp = files_run["tmp"]
    assert isinstance(tmp, Path)
    where = tmp / "elsewhere"
    where.mkdir()
    shutil.copy(tmp / "rec" / "j.wrr", where / "j.wrr")
    last = list_snapshots(where / "j.wrr")[-1]
    # the recorded host directory (made absolute at record time) is still there
    res = cli("resume", "j.wrr", cwd=where)
    assert res.returncode == 5, res.stderr
    with open_journal(where / "j.wrr") as r:
        after = [e for e in r if isinstance(e, Call) and e.seq >= last.seq]
    written = b"".join(e.input_data[1] for e in after if e.name == "fd_write" and e.params[0] == 1)
    assert res.stdout == written
    shutil.rmtree(tmp / "rec" / "data")
    res = cli("resume", "j.wrr", cwd=where)
    assert res.returncode == 125
    err = res.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "/data" in err and "--dir" in err
    res = cli("resume", "--snapshot", "999", "j.wrr", cwd=where)
    assert res.returncode == 125 and "no snapshot 999" in res.stderr.decode()


def test_resume_recorded_and_replayed_from_snapshot(files_run: dict[str, object]) -> None:
    tmp = files_run["tmp"]
    assert isinstance(tmp, Path)
    rec = tmp / "rec"
    (rec / "data" / "out.txt").unlink()
    res = cli("resume", "--snapshot", "2", "-o", "resumed.wrr", "j.wrr", cwd=rec)
    assert res.returncode == 5, res.stderr
    rep = cli("replay", "resumed.wrr", cwd=rec)
    assert rep.returncode == 5, rep.stderr
    assert rep.stdout == res.stdout
    for sid in (1, 5):
        rep = cli("replay", "--from-snapshot", str(sid), "j.wrr", cwd=rec)
        assert rep.returncode == 5, rep.stderr
        assert files_run["plain"].stdout.endswith(rep.stdout) and rep.stdout  # type: ignore[attr-defined]
    listing = cli("resume", "--list", "j.wrr", cwd=rec)
    assert listing.returncode == 0
    lines = listing.stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["ID", "PID", "SEQ", "TRIGGER"]
    assert lines[1].split()[:4] == ["1", "1", "4", "every"]
    dumped = cli("dump", "--snapshots", "j.wrr", cwd=rec)
    assert (dumped.returncode, dumped.stdout) == (0, listing.stdout)


def test_frozen_fs_in_snapshot_round_trips(files_run: dict[str, object]) -> None:
    tmp = files_run["tmp"]
    assert isinstance(tmp, Path)
    loaded = load_snapshot(tmp / "rec" / "j.wrr", 3)
    fs = unfreeze_fs(loaded.fs)
    try:
        assert fs.read_file("/tmp/state.txt").startswith(b"step 0\nstep 1\n")
        assert fs.freeze() == unfreeze_fs(fs.freeze()).freeze()
        assert [g for _, g in fs.preopens()] == ["/data", "/tmp"]
    finally:
        fs.close()
        fs.close_mounts()


def test_snapshot_on_stdin_exit_and_signal(guest: Callable[[str], Path], tmp_path: Path) -> None:
    wasm = guest("snapshot_inputs")
    res = cli("record", "-o", "in.wrr", "--snapshot-on", "stdin", "--snapshot-on", "exit",
              str(wasm), cwd=tmp_path, stdin=b"abcdefghijklmnopq")
    assert res.returncode == 0, res.stderr
    infos = list_snapshots(tmp_path / "in.wrr")
    assert [i.trigger for i in infos] == ["stdin"]  # _start returns: no proc_exit to stop at
    with open_journal(tmp_path / "in.wrr") as r:
        entries = list(r)
    snap = next(e for e in entries if isinstance(e, SnapshotEvent))
    nxt = entries[entries.index(snap) + 1]
    assert isinstance(nxt, Call) and nxt.name == "fd_read" and nxt.seq == snap.seq
    # resume from the stdin snapshot: the stdin read happens live, with new input
    res2 = cli("resume", "in.wrr", cwd=tmp_path, stdin=b"XYZ")
    assert res2.returncode == 0 and res2.stdout.startswith(b"round 0 ")
    assert b"read 3 " in res2.stdout

    exiting = guest("snapshot_counter")  # exits with 3 through proc_exit
    res = cli("record", "-o", "ex.wrr", "--snapshot-on", "exit", str(exiting), cwd=tmp_path)
    assert res.returncode == 3
    assert [i.trigger for i in list_snapshots(tmp_path / "ex.wrr")] == ["exit"]
    res = cli("resume", "ex.wrr", cwd=tmp_path)
    assert (res.returncode, res.stdout) == (3, b"")

    # SIGUSR1 while the guest waits on stdin: the snapshot is taken at the next syscall
    proc = subprocess.Popen([sys.executable, "-m", "wasi_rr", "record", "-o", "sig.wrr",
                             "--snapshot-on", "signal", str(wasm)], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"1234567")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith(b"round 0 ")
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    _, err = proc.communicate(b"abc", timeout=60)
    assert proc.returncode == 0, err
    assert [i.trigger for i in list_snapshots(tmp_path / "sig.wrr")] == ["signal"]


def test_uninstrumentable_module_is_one_line_error(tmp_path: Path) -> None:
    wat = tmp_path / "two.wat"
    wat.write_text('(module (import "wasi_snapshot_preview1" "sched_yield"'
                   ' (func $y (result i32))) (memory (export "memory") 1) (memory 1)'
                   ' (func (export "_start") (drop (call $y))))')
    assert cli("run", str(wat), cwd=tmp_path).returncode == 0  # fine without snapshots
    res = cli("record", "-o", "x.wrr", "--snapshot-every", "1", str(wat), cwd=tmp_path)
    assert res.returncode == 125
    err = res.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "snapshots need" in err and "memor" in err


def test_resume_from_a_truncated_journal(files_run: dict[str, object]) -> None:
    """A recording killed after its snapshots (no END frame) can still be resumed."""
    tmp = files_run["tmp"]
    assert isinstance(tmp, Path)
    where = tmp / "killed"
    (where / "data").mkdir(parents=True)
    (where / "data" / "in.txt").write_text("hello from the host\n")
    data = (tmp / "rec" / "j.wrr").read_bytes()
    (where / "j.wrr").write_bytes(data[:-60])  # cut inside the END frame
    listing = cli("resume", "--list", "j.wrr", cwd=where)
    assert listing.returncode == 0 and b"truncated" in listing.stderr
    res = cli("resume", "--snapshot", "3", "--dir", "data::/data", "j.wrr", cwd=where)
    assert res.returncode == 5, res.stderr
    assert files_run["plain"].stdout.endswith(res.stdout)  # type: ignore[attr-defined]
    (where / "j.wrr").write_bytes(data[:200])  # nothing left: a journal error
    res = cli("resume", "j.wrr", cwd=where)
    assert res.returncode == 126 and b"truncated" in res.stderr
