"""``wasi_rr.record`` and ``wasi-rr record``: real guests journaled end to end."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wasi_rr.api import RunConfig, run
from wasi_rr.cli import main
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import (
    ExitEvent,
    InputDigest,
    StartEvent,
    Call,
    TrapEvent,
    open_journal,
)
from wasi_rr.record import RecordError, record

Guest = Callable[[str], Path]


def _config(wasm: Path, **kw: object) -> RunConfig:
    kw.setdefault("stdout", io.BytesIO())
    kw.setdefault("stderr", io.BytesIO())
    kw.setdefault("argv0", "guest.wasm")
    return RunConfig(module=wasm, **kw)  # type: ignore[arg-type]


def test_record_args_env_with_redaction(guest: Guest, tmp_path: Path) -> None:
    wasm = guest("args_env")
    out = io.BytesIO()
    env = {"HOME": "/home/g", "TOKEN": "s3cr\u00e9t"}
    cfg = _config(wasm, args=["a", "b"], env=env, stdout=out)
    result = record(cfg, tmp_path / "j.wrr", redact_env=["TOKEN", "NOT_SET"],
                    meta={"ticket": "T-1"})
    plain_out = io.BytesIO()
    plain = run(_config(wasm, args=["a", "b"], env=env, stdout=plain_out))
    assert result == plain and result.exit_code == 2
    assert out.getvalue() == plain_out.getvalue()  # the guest ran with the real value
    assert b"TOKEN=s3cr\xc3\xa9t" in out.getvalue()
    with open_journal(tmp_path / "j.wrr") as r:
        h = r.header
        assert h.argv == ["guest.wasm", "a", "b"]
        assert h.env == [("HOME", "/home/g"), ("TOKEN", "*******")]  # 7 UTF-8 bytes
        assert h.redacted_env == ["TOKEN"]
        assert h.meta["ticket"] == "T-1"
        assert h.module_sha256 == hashlib.sha256(wasm.read_bytes()).hexdigest()
        assert r.module_bytes() == wasm.read_bytes()
        entries = list(r)
    assert isinstance(entries[0], StartEvent) and entries[0].argv == ("guest.wasm", "a", "b")
    assert entries[-1] == ExitEvent(1, 2, entries[-1].elapsed_ns)
    calls = [e for e in entries if isinstance(e, Call)]
    assert [c.seq for c in calls] == list(range(len(calls)))
    environ = next(c for c in calls if c.name == "environ_get")
    blob = b"".join(d for _, d in environ.writes)
    assert b"TOKEN=*******\0" in blob and b"s3cr" not in blob
    sizes = next(c for c in calls if c.name == "environ_sizes_get")
    # same total size as the real environment: the layout in guest memory is unchanged
    assert int.from_bytes(sizes.writes[1][1], "little") == len(b"HOME=/home/g\0TOKEN=s3cr\xc3\xa9t\0")


def test_record_trap_and_stdio_kept_in_full(guest: Guest, tmp_path: Path) -> None:
    result = record(_config(guest("trap")), tmp_path / "t.wrr")
    assert result.trap is not None and result.exit_code == ExitStatus.TRAP
    entries = list(open_journal(tmp_path / "t.wrr"))
    assert isinstance(entries[-1], TrapEvent) and entries[-1].message == result.trap

    data = bytes(range(256)) * 64  # 16 KiB through stdin -> stdout
    out = io.BytesIO()
    record(_config(guest("stdin_cat"), stdin=io.BytesIO(data), stdout=out), tmp_path / "c.wrr",
           embed_module=False)
    assert out.getvalue() == data
    with open_journal(tmp_path / "c.wrr") as r:
        assert r.module_bytes() is None and not r.header.module_embedded
        assert r.header.module_sha256 == hashlib.sha256(guest("stdin_cat").read_bytes()).hexdigest()
        calls = [e for e in r if isinstance(e, Call)]
    reads = b"".join(d for c in calls if c.name == "fd_read" for _, d in c.writes[:-1])
    assert reads == data  # everything the guest received, in full
    written = b"".join(x for c in calls if c.name == "fd_write" and c.params[0] == 1
                       for x in c.inputs[1:])
    assert written == data  # stdout kept in full despite 4 KiB writes
    assert not any(isinstance(x, InputDigest) for c in calls for x in c.inputs)


def test_record_to_unwritable_path_is_a_tool_error(guest: Guest, tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot write journal"):
        record(_config(guest("exit_code")), tmp_path / "missing" / "j.wrr")
    if Path("/dev/full").exists():
        with pytest.raises(RecordError, match="No space left"):
            record(_config(guest("exit_code")), "/dev/full")


def test_cli_record_then_dump(guest: Guest, tmp_path: Path,
                              capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    journal = tmp_path / "cli.wrr"
    status = main(["record", "-o", str(journal), "--env", "HOME=/h", "--env", "PW=abc",
                   "--redact-env", "PW", "--meta", "who=test", str(guest("args_env")), "x"])
    assert status == 1
    captured = capfdbinary.readouterr()
    assert b"env[1]: [PW=abc]" in captured.out
    assert main(["dump", "--header", str(journal)]) == 0
    text = capfdbinary.readouterr().out.decode()
    assert "PW=***   (redacted)" in text and '"who": "test"' in text
    assert main(["dump", str(journal), "0-1"]) == 0
    lines = capfdbinary.readouterr().out.decode().splitlines()
    assert lines[0].startswith("#0 environ_sizes_get() = SUCCESS {environc=2")
    assert lines[1].startswith("#1 environ_get(") and "PW=***" in lines[1]
    assert len(lines) == 2
    assert main(["record", "-o", str(tmp_path / "no" / "x.wrr"), str(guest("args_env"))]) == \
        ExitStatus.TOOL_ERROR
    err = capfdbinary.readouterr().err.decode()
    assert err.startswith("wasi-rr: error: ") and err.count("\n") == 1


@pytest.mark.parametrize("lanes", [False, True], ids=["observed", "lanes"])
def test_journal_write_failure_mid_run_stops_the_guest(
        guest: Guest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lanes: bool) -> None:
    """With a user observer every call takes the observed path; without one the
    recorder's lanes journal the clock loop (host/recordpath.py): either way a
    full disk stops the guest and the journal reads up to its last frame with
    contiguous sequence numbers."""
    import wasi_rr.record as rec
    from wasi_rr.journal import JournalTruncated, JournalWriter

    class FullDisk:
        def __init__(self, f: Any) -> None:
            self._f = f
            self._limit = f.tell() + 3000

        def write(self, data: bytes) -> int:
            if self._f.tell() + len(data) > self._limit:
                raise OSError(28, "No space left on device")
            return int(self._f.write(data))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._f, name)

    class SmallDiskWriter(JournalWriter):
        def __init__(self, *a: Any, **kw: Any) -> None:
            kw["frame_bytes"] = 512
            kw["check_every"] = 16
            super().__init__(*a, **kw)
            self._f = FullDisk(self._f)  # type: ignore[assignment]

    monkeypatch.setattr(rec, "JournalWriter", SmallDiskWriter)
    seen: list[int] = []

    class Counter:
        def on_syscall(self, record: Any) -> None:
            seen.append(record.seq)

    with pytest.raises(RecordError, match="No space left"):
        record(_config(guest("bench_clock"), args=["100000"],
                       observer=None if lanes else Counter()),
               tmp_path / "full.wrr")
    if not lanes:
        assert 0 < len(seen) < 100000  # the guest was stopped early; the observer ran
    entries: list[Any] = []
    with pytest.raises(JournalTruncated):
        with open_journal(tmp_path / "full.wrr") as r:
            for e in r:
                entries.append(e)
    assert isinstance(entries[0], StartEvent) and len(entries) > 10
    assert [e.seq for e in entries[1:]] == list(range(len(entries) - 1))
