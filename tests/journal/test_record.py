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
from wasi_rr.errors import ConfigError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.table import function_names
from wasi_rr.journal import (
    Call,
    ExitEvent,
    InputDigest,
    StartEvent,
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
        assert h.functions == function_names()
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
    assert int.from_bytes(sizes.writes[1][1], "little") == len(
        b"HOME=/home/g\0TOKEN=s3cr\xc3\xa9t\0"
    )
    # the value is gone from every input and write, stdout included
    stdout = b"".join(d for c in calls if c.stdio == 1 for _, d in c.inputs[1:])
    assert b"env[1]: [TOKEN=*******]" in stdout
    every = [d for c in calls for _, d in (*c.inputs, *c.writes) if isinstance(d, bytes)]
    assert every and not any("s3cr\u00e9t".encode() in d for d in every)
    assert "s3cr\u00e9t".encode() not in (tmp_path / "j.wrr").read_bytes()


def test_redacting_a_short_value_is_refused(guest: Guest, tmp_path: Path) -> None:
    """Shorter than 4 bytes, the placeholder would also replace unrelated bytes."""
    cfg = _config(guest("args_env"), env={"PIN": "123"})
    with pytest.raises(ConfigError, match="shorter than 4 bytes"):
        record(cfg, tmp_path / "j.wrr", redact_env=["PIN"])
    assert not (tmp_path / "j.wrr").exists()


def test_record_trap_and_stdio_kept_in_full(guest: Guest, tmp_path: Path) -> None:
    result = record(_config(guest("trap")), tmp_path / "t.wrr")
    assert result.trap is not None and result.exit_code == ExitStatus.TRAP
    entries = list(open_journal(tmp_path / "t.wrr"))
    assert isinstance(entries[-1], TrapEvent) and entries[-1].message == result.trap

    data = bytes(range(256)) * 64  # 16 KiB through stdin -> stdout
    out = io.BytesIO()
    record(
        _config(guest("stdin_cat"), stdin=io.BytesIO(data), stdout=out),
        tmp_path / "c.wrr",
        embed_module=False,
        input_hash_threshold=100,
    )
    assert out.getvalue() == data
    with open_journal(tmp_path / "c.wrr") as r:
        assert r.module_bytes() is None and not r.header.module_embedded
        assert r.header.module_sha256 == hashlib.sha256(guest("stdin_cat").read_bytes()).hexdigest()
        calls = [e for e in r if isinstance(e, Call)]
    reads = b"".join(d for c in calls if c.name == "fd_read" for _, d in c.writes[:-1])
    assert reads == data  # everything the guest received, in full
    stdout = [c for c in calls if c.name == "fd_write" and c.params[0] == 1]
    assert stdout and all(c.stdio == 1 for c in stdout)
    written = b"".join(x for c in stdout for _, x in c.inputs[1:])
    assert written == data  # stdout kept in full despite writes over the threshold
    assert any(len(x) > 100 for c in stdout for _, x in c.inputs)
    assert not any(isinstance(x, InputDigest) for c in calls for _, x in c.inputs)


def test_record_to_unwritable_path_is_a_tool_error(guest: Guest, tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot write journal"):
        record(_config(guest("exit_code")), tmp_path / "missing" / "j.wrr")
    if Path("/dev/full").exists():
        with pytest.raises(RecordError, match="No space left"):
            record(_config(guest("exit_code")), "/dev/full")


def test_cli_record_then_dump(
    guest: Guest, tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    journal = tmp_path / "cli.wrr"
    status = main(
        [
            "record",
            "-o",
            str(journal),
            "--env",
            "HOME=/h",
            "--env",
            "PW=abcd",
            "--redact-env",
            "PW",
            "--meta",
            "who=test",
            str(guest("args_env")),
            "x",
        ]
    )
    assert status == 1
    captured = capfdbinary.readouterr()
    assert b"env[1]: [PW=abcd]" in captured.out  # the guest saw the real value
    assert main(["dump", "--header", str(journal)]) == 0
    text = capfdbinary.readouterr().out.decode()
    assert "PW=****   (redacted)" in text and '"who": "test"' in text
    assert main(["dump", str(journal), "0-1"]) == 0
    lines = capfdbinary.readouterr().out.decode().splitlines()
    assert lines[0].startswith("#0 environ_sizes_get() = SUCCESS {environc=2")
    assert lines[1].startswith("#1 environ_get(") and "PW=****" in lines[1]
    assert len(lines) == 2
    assert main(["dump", str(journal)]) == 0
    out = capfdbinary.readouterr().out
    assert b"PW=****" in out and b"abcd" not in out and b"abcd" not in journal.read_bytes()
    assert main(["replay", str(journal)]) == 1  # the replayed guest sees the placeholder
    assert b"env[1]: [PW=****]" in capfdbinary.readouterr().out
    assert (
        main(
            [
                "record",
                "-o",
                str(tmp_path / "short.wrr"),
                "--env",
                "PW=abc",
                "--redact-env",
                "PW",
                str(guest("args_env")),
            ]
        )
        == ExitStatus.TOOL_ERROR
    )
    err = capfdbinary.readouterr().err.decode()
    assert err.count("\n") == 1 and "shorter than 4 bytes" in err
    assert (
        main(["record", "-o", str(tmp_path / "no" / "x.wrr"), str(guest("args_env"))])
        == ExitStatus.TOOL_ERROR
    )
    err = capfdbinary.readouterr().err.decode()
    assert err.startswith("wasi-rr: error: ") and err.count("\n") == 1


def test_journal_write_failure_mid_run_stops_the_guest(
    guest: Guest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the guest runs: the generated record callbacks' frame cut
    fails, the guest is stopped there (not run to its end), ``record`` raises
    ``RecordError``, and the journal reads up to its last frame with contiguous
    sequence numbers."""
    import wasi_rr.record.api as rec
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

    made: list[JournalWriter] = []

    class SmallDiskWriter(JournalWriter):
        def __init__(self, *a: Any, **kw: Any) -> None:
            kw["frame_bytes"] = 512
            super().__init__(*a, **kw)
            self._f = FullDisk(self._f)  # type: ignore[assignment]
            made.append(self)

    monkeypatch.setattr(rec, "JournalWriter", SmallDiskWriter)
    with pytest.raises(RecordError, match="No space left"):
        record(_config(guest("bench_clock"), args=["100000"]), tmp_path / "full.wrr")
    (w,) = made
    calls_made = w.raw_bytes  # bytes of records that reached the file
    assert 0 < calls_made < 100_000 * 20  # stopped long before the guest's end
    entries: list[Any] = []
    with pytest.raises(JournalTruncated), open_journal(tmp_path / "full.wrr") as r:
        for e in r:
            entries.append(e)  # keep what came before the error
    assert isinstance(entries[0], StartEvent) and len(entries) > 10
    assert [e.seq for e in entries[1:]] == list(range(len(entries) - 1))


def test_a_refused_module_leaves_no_journal(tmp_path: Path) -> None:
    """A module wasi-rr cannot link (an import it does not provide) is refused
    before the guest runs; no header-only journal is left to replay as truncated."""
    import wasmtime

    wasm = tmp_path / "unknown.wasm"
    wasm.write_bytes(wasmtime.wat2wasm(
        '(module (import "env" "host_call" (func)) (memory (export "memory") 1)'
        ' (func (export "_start")))'))
    journal = tmp_path / "j.wrr"
    status = main(["record", "-o", str(journal), str(wasm)])
    assert status == int(ExitStatus.TOOL_ERROR)
    assert not journal.exists()
