"""``--verify``: every call re-executed on a kernel rebuilt from the journal."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from replay_helpers import TRACES, wasi_rr

from wasi_rr.api import DirMount, RunConfig
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.runtime.fscapture import CAPTURE_KEY, capture_dirs
from wasi_rr.record import record
from wasi_rr.replay import DivergenceKind, replay

TRACE_NAMES = sorted(p.stem for p in TRACES.glob("*.wrr"))


@pytest.mark.parametrize("name", TRACE_NAMES)
def test_verify_passes_on_committed_traces(name: str) -> None:
    result = replay(TRACES / f"{name}.wrr", verify=True, stdout=BytesIO(), stderr=BytesIO())
    assert result.divergence is None, result.divergence.report()
    assert result.verified > 0


def test_verify_fails_loudly_on_a_broken_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    journal = TRACES / "fs_files.wrr"
    original = WasiKernel.fd_seek

    def off_by_one(self: WasiKernel, fd: int, offset: int, whence: int) -> int:
        return original(self, fd, offset, whence) + 1
    monkeypatch.setattr(WasiKernel, "fd_seek", off_by_one)
    assert replay(journal, stdout=BytesIO(), stderr=BytesIO()).divergence is None  # verbatim
    result = replay(journal, verify=True, stdout=BytesIO(), stderr=BytesIO())
    d = result.divergence
    assert d is not None and d.kind is DivergenceKind.RESULT_MISMATCH
    assert result.exit_code == ExitStatus.DIVERGENCE
    assert "fd_seek" in d.summary and d.fields[0].what.startswith("write at")
    report = d.report()
    assert "divergence" in report and "fd_seek(" in report


def test_verify_catches_a_wrong_errno(monkeypatch: pytest.MonkeyPatch) -> None:
    from wasi_rr.host.kernel.wasi_types import Errno, WasiError

    def refuse(self: WasiKernel, *args: object) -> None:
        raise WasiError(Errno.ACCES)
    monkeypatch.setattr(WasiKernel, "path_create_directory", refuse)
    d = replay(TRACES / "fs_dirs.wrr", verify=True, stdout=BytesIO(),
               stderr=BytesIO()).divergence
    assert d is not None and d.fields[0].what == "errno"
    assert d.fields[0].actual == "ACCES"


def _host_dir(tmp_path: Path) -> Path:
    data = tmp_path / "hostdata"
    (data / "sub").mkdir(parents=True)
    (data / "hello.txt").write_bytes(b"hello from the host\n")
    (data / "sub" / "same.txt").write_bytes(b"hello from the host\n")  # deduplicated
    return data


def test_capture_is_content_addressed(tmp_path: Path) -> None:
    cap = capture_dirs([DirMount(_host_dir(tmp_path), "/data")])
    assert len(cap["blobs"]) == 1
    assert [e[:2] for e in cap["mounts"]["/data"]] == [
        ["hello.txt", "file"], ["sub", "dir"], ["sub/same.txt", "file"]]


def test_verify_with_captured_host_directory(guest: Callable[[str], Path],
                                             tmp_path: Path) -> None:
    data = _host_dir(tmp_path)
    config = RunConfig(module=guest("fs_files"), args=["/data"],
                       dirs=[DirMount(data, "/data")], stdin=BytesIO(), stdout=BytesIO(),
                       stderr=BytesIO(), argv0="fs_files.wasm")
    journal = tmp_path / "host.wrr"
    result = record(config, journal, meta={CAPTURE_KEY: capture_dirs(config.dirs)})
    assert result.exit_code == 0
    for p in sorted(data.rglob("*"), reverse=True):  # the host files are gone
        p.rmdir() if p.is_dir() else p.unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = wasi_rr("replay", "--verify", journal, cwd=empty)
    assert proc.returncode == 0, proc.stderr.decode()


def test_verify_without_capture_is_a_clear_error(guest: Callable[[str], Path],
                                                 tmp_path: Path) -> None:
    config = RunConfig(module=guest("fs_files"), args=["/data"],
                       dirs=[DirMount(_host_dir(tmp_path), "/data")], stdin=BytesIO(),
                       stdout=BytesIO(), stderr=BytesIO())
    journal = tmp_path / "nocap.wrr"
    record(config, journal)
    proc = wasi_rr("replay", "--verify", journal, cwd=tmp_path)
    assert proc.returncode == ExitStatus.TOOL_ERROR
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "carries no capture" in err
    assert CAPTURE_KEY not in err


def test_cli_record_captures_dirs_so_verify_works(
    guest: Callable[[str], Path], tmp_path: Path
) -> None:
    """A journal recorded by the CLI with ``--dir`` is verifiable elsewhere by default;
    with ``--no-capture-fs`` verify is refused with one line, verbatim replay still works."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "seed.txt").write_bytes(b"seed contents\n")
    wasm = guest("fs_files")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for flags, verify_status in (((), 0), (("--no-capture-fs",), int(ExitStatus.TOOL_ERROR))):
        journal = tmp_path / f"run{len(flags)}.wrr"
        shutil.rmtree(data)
        data.mkdir()
        (data / "seed.txt").write_bytes(b"seed contents\n")
        rec = wasi_rr("record", "-o", journal, *flags, "--dir", f"{data}::/data", wasm, "/data",
                      cwd=tmp_path)
        assert rec.returncode == 0, rec.stderr
        verified = wasi_rr("replay", "--verify", journal, cwd=elsewhere)
        assert verified.returncode == verify_status, verified.stderr
        if verify_status:
            assert verified.stderr.count(b"\n") == 1 and b"Traceback" not in verified.stderr
        else:
            assert verified.stdout == rec.stdout
        plain = wasi_rr("replay", journal, cwd=elsewhere)
        assert (plain.returncode, plain.stdout) == (0, rec.stdout)


@pytest.mark.parametrize("program", ["fs_dirs", "fs_rename", "wts_readdir", "wts_filestat"])
def test_verify_write_through_dir_as_recorded(
    program: str, guest: Callable[[str], Path], tmp_path: Path
) -> None:
    """Guests that create, list and stat directories on a write-through host mount
    verify: the capture is re-mounted in the recorded mode (new files list in host
    order, as they did) and a directory's size, host filesystem metadata, is not
    compared."""
    data = tmp_path / "data"
    data.mkdir()
    journal = tmp_path / "run.wrr"
    rec = wasi_rr("record", "-o", journal, "--dir", f"{data}::/data", guest(program), "/data",
                  cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    verified = wasi_rr("replay", "--verify", journal, cwd=elsewhere)
    assert verified.returncode == 0, verified.stderr.decode()
    assert verified.stdout == rec.stdout
