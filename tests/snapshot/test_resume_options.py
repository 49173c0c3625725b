"""``resume`` accepts the options of ``run`` that change how a module is linked or run,
each with the one meaning it can have for a guest that is already running:

* ``--trap-unknown-imports``: links as ``run`` does (no longer a usage error);
* ``--env`` / ``--argv0``: applied when no process read its environment /
  arguments before the snapshot, else refused with one line (the guest keeps
  its own copy of what it read);
* ``--tmpfs``: refused with one line (the guest listed its preopens at start);
* ``--dir`` / ``--dir-overlay``: re-bind mounts, keeping their recorded mode
  (``--dir``: ``test_resume_cli.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from wasi_rr.cli import main
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import open_journal

# seq 0 prints "start", 1-2 read the environment, 3 prints it, 4-5 read argv, 6 prints it;
# with --snapshot-every 1 snapshot K is taken before syscall K.
GUEST = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $esz (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $eg (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $asz (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $ag (param i32 i32) (result i32)))
  {extra}
  (memory (export "memory") 1)
  (data (i32.const 0x300) "start\\n")
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (call $print (i32.const 0x300) (i32.const 6))
    (drop (call $esz (i32.const 24) (i32.const 28)))
    (drop (call $eg (i32.const 0x200) (i32.const 0x2000)))
    (call $print (i32.const 0x2000) (i32.load (i32.const 28)))
    (drop (call $asz (i32.const 16) (i32.const 20)))
    (drop (call $ag (i32.const 0x100) (i32.const 0x1000)))
    (call $print (i32.const 0x1000) (i32.load (i32.const 20)))))"""
UNKNOWN = '(import "env" "mystery" (func $m))'
SECRET = "a-plain-variable"


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capfdbinary: pytest.CaptureFixture[bytes]) -> Path:
    """A recording with a snapshot before every syscall; A=1 and SECRET set."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    module = tmp_path / "g.wasm"
    module.write_bytes(wasmtime.wat2wasm(GUEST.format(extra=UNKNOWN)))
    path = tmp_path / "g.wrr"
    status = main(["record", "-o", str(path), "--snapshot-every", "1", "--trap-unknown-imports",
                   "--env", "A=1", "--env", f"SECRET={SECRET}",
                   str(module), "x"])
    out, _ = capfdbinary.readouterr()
    assert status == 0
    assert out == f"start\nA=1\0SECRET={SECRET}\0{module}\0x\0".encode()
    return path


def resume(capfd: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, str]:
    status = main(["resume", *args])
    out, err = capfd.readouterr()
    return status, out, err.decode()


def test_env_applies_when_the_environment_was_not_read_yet(
        journal: Path, capfdbinary: pytest.CaptureFixture[bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HOST", "yes")
    status, out, err = resume(capfdbinary, "--snapshot", "1", "--env", "A=2", "--env", "FROM_HOST",
                              "--env", "B=new", str(journal))
    assert (status, err) == (0, "")
    assert out.startswith(f"A=2\0SECRET={SECRET}\0FROM_HOST=yes\0B=new\0".encode())


def test_env_is_refused_once_the_guest_read_it(
        journal: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    status, out, err = resume(capfdbinary, "--snapshot", "2", "--env", "A=2", str(journal))
    assert status == ExitStatus.TOOL_ERROR and out == b""
    assert err == ("wasi-rr: error: --env: the guest read its environment before snapshot 2 "
                   "(environ_sizes_get, syscall #1 of pid 1) and keeps its own copy: a change "
                   "would not reach it\n")
    # without --env the same snapshot resumes
    status, out, _ = resume(capfdbinary, "--snapshot", "2", str(journal))
    assert status == 0 and out.startswith(b"A=1\0")


def test_argv0_applies_until_the_arguments_are_read(
        journal: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    status, out, err = resume(capfdbinary, "--snapshot", "4", "--argv0", "prog", str(journal))
    assert (status, out, err) == (0, b"prog\0x\0", "")
    status, out, err = resume(capfdbinary, "--snapshot", "5", "--argv0", "prog", str(journal))
    assert status == ExitStatus.TOOL_ERROR and out == b""
    assert err.count("\n") == 1 and "--argv0: the guest read its arguments before snapshot 5" in err


def test_tmpfs_is_refused_in_one_line(
        journal: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    status, out, err = resume(capfdbinary, "--tmpfs", "/scratch", str(journal))
    assert status == ExitStatus.TOOL_ERROR and out == b""
    assert err.startswith("wasi-rr: error: --tmpfs /scratch: ") and err.count("\n") == 1


def test_trap_unknown_imports_is_accepted(
    journal: Path, tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """No longer a usage error: with or without it, the recorded linking holds (a module
    with unknown imports was recorded with the flag; one without has none to trap)."""
    for flags in (["--trap-unknown-imports"], []):
        status, out, err = resume(capfdbinary, *flags, "--snapshot", "6", str(journal))
        assert (status, err) == (0, ""), err
        assert out.endswith(b"\0x\0")
    module = tmp_path / "plain.wasm"
    module.write_bytes(wasmtime.wat2wasm(GUEST.format(extra="")))
    plain = tmp_path / "plain.wrr"
    assert main(["record", "-o", str(plain), "--snapshot-every", "3", str(module)]) == 0
    capfdbinary.readouterr()
    status, out, err = resume(capfdbinary, "--trap-unknown-imports", str(plain))
    assert (status, err) == (0, "") and out.endswith(b"\0")


def test_resume_o_journal_has_the_changed_environment(
    journal: Path, tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    more = tmp_path / "more.wrr"
    status, out, err = resume(
        capfdbinary, "--snapshot", "1", "--env", "A=3", "-o", str(more), str(journal)
    )
    assert (status, err) == (0, "") and out.startswith(b"A=3\0")
    with open_journal(more) as r:
        assert dict(r.header.env) == {"A": "3", "SECRET": SECRET}
        assert r.header.options["trap_unknown_imports"] is True
    replayed = main(["replay", str(more)])
    assert replayed == 0 and capfdbinary.readouterr().out == out


def test_dir_overlay_rebinds_like_dir(
    guest: Callable[[str], Path],
    tmp_path: Path,
    capfdbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--dir-overlay`` re-binds a mount as ``--dir`` does; the mount keeps its
    recorded mode (here write-through: the write lands in the new directory)."""
    monkeypatch.chdir(tmp_path)
    for name in ("data", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "in.txt").write_text("hello from the host\n")
    assert (
        main(
            [
                "record",
                "-o",
                "j.wrr",
                "--snapshot-every",
                "4",
                "--tmpfs",
                "/tmp",
                "--dir",
                "data::/data",
                str(guest("snapshot_files")),
            ]
        )
        == 5
    )
    capfdbinary.readouterr()
    (tmp_path / "data" / "out.txt").unlink()
    status, out, err = resume(
        capfdbinary, "--snapshot", "3", "--dir-overlay", "other::/data", "j.wrr"
    )
    assert (status, err) == (5, "") and out.startswith(b"wrote step 1 ")
    assert (tmp_path / "other" / "out.txt").read_text() == "appended by the guest\n"
    assert not (tmp_path / "data" / "out.txt").exists()
