"""Divergence detection and the report: a changed build, fabricated journals
(extra calls, entries left over, other endings), and the report's contents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pytest
from guestbuild import GuestBuildError, compile_source
from replay_helpers import REPO, record_guest, rewrite_journal, wasi_rr

from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import Call, Entry, ExitEvent, TrapEvent
from wasi_rr.replay import DivergenceKind, replay
from wasi_rr.replay.divergence import bytes_diff


def _variant(tmp: Path, program: str, old: str, new: str) -> Path:
    """Build a changed copy of a corpus program, *with* its name section (not
    stripped) so backtraces show function names."""
    src = (REPO / "corpus" / f"{program}.c").read_text()
    assert old in src
    try:
        return compile_source(src.replace(old, new, 1), tmp, f"{program}_variant", strip=False)
    except GuestBuildError as exc:
        pytest.fail(f"cannot build variant: {exc}")


@pytest.fixture(scope="module")
def args_env_variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _variant(tmp_path_factory.mktemp("variant"), "args_env",
                    'printf("argc: %d\\n", argc);', 'printf("ARGC: %d\\n", argc);')


def test_changed_build_reports_first_differing_syscall(
        guest: Callable[[str], Path], args_env_variant: Path, tmp_path: Path) -> None:
    rec = record_guest(guest("args_env"), tmp_path / "a.wrr", args=["x"])
    proc = wasi_rr("replay", "--module", args_env_variant, rec.journal, cwd=tmp_path)
    assert proc.returncode == ExitStatus.DIVERGENCE
    err = proc.stderr.decode()
    lines = err.splitlines()
    assert "warning" in lines[0] and "is not the recorded module" in lines[0]
    assert "divergence at syscall #3" in err
    assert 'journal expected: fd_write(fd=1, iovs=[b"argc: 2", b"\\n"])' in err
    assert 'guest did:        fd_write(fd=1, iovs=[b"ARGC: 2", b"\\n"])' in err
    assert "differs: input iovs[0]: expected at byte 0: 'argc: 2'" in err
    assert "got at byte 0: 'ARGC: 2'" in err
    assert "#2 args_get(" in err  # the calls before it
    backtrace = err.split("guest wasm backtrace", 1)[1]
    assert " main (" in backtrace and "printf" in backtrace
    assert "Traceback" not in err
    assert proc.stdout == b""  # the divergent write itself is not emitted


def test_changed_param_is_named(guest: Callable[[str], Path], tmp_path: Path) -> None:
    variant = _variant(tmp_path, "exit_code", "exit(code);", "exit(code + 1);")
    rec = record_guest(guest("exit_code"), tmp_path / "e.wrr", args=["7"])
    warnings: list[str] = []
    result = replay(rec.journal, module=variant, stdout=BytesIO(), stderr=BytesIO(),
                    warn=warnings.append)
    assert len(warnings) == 1
    d = result.divergence
    assert d is not None and d.kind is DivergenceKind.CALL_MISMATCH
    assert result.exit_code == ExitStatus.DIVERGENCE
    assert [(f.what, f.expected, f.actual) for f in d.fields] == [("param rval", "7", "8")]
    assert "proc_exit" in (d.expected or "")


def test_same_module_given_explicitly_gives_no_warning(
        guest: Callable[[str], Path], tmp_path: Path) -> None:
    rec = record_guest(guest("exit_code"), tmp_path / "e.wrr", args=["3"])
    warnings: list[str] = []
    result = replay(rec.journal, module=guest("exit_code"), stdout=BytesIO(),
                    stderr=BytesIO(), warn=warnings.append)
    assert warnings == [] and result.divergence is None and result.exit_code == 3


@pytest.fixture
def exit_journal(guest: Callable[[str], Path], tmp_path: Path) -> Path:
    return record_guest(guest("exit_code"), tmp_path / "orig.wrr", args=["5"]).journal


def _syscalls(entries: list[Entry]) -> list[Call]:
    return [e for e in entries if isinstance(e, Call)]


def test_guest_makes_more_calls_than_recorded(exit_journal: Path, tmp_path: Path) -> None:
    def drop_tail(entries: list[Entry]) -> list[Entry]:
        calls = _syscalls(entries)
        keep = calls[:3]
        return [entries[0], *keep, ExitEvent(1, 5)]
    journal = rewrite_journal(exit_journal, tmp_path / "short.wrr", drop_tail)
    result = replay(journal, stdout=BytesIO(), stderr=BytesIO())
    d = result.divergence
    assert d is not None and d.kind is DivergenceKind.EXTRA_CALL
    assert d.seq == 3 and result.entries_consumed == 3
    assert "after the last recorded syscall" in d.report()
    assert "exit status 5" in (d.expected or "")


def test_guest_ends_while_entries_are_left(exit_journal: Path, tmp_path: Path) -> None:
    def add_tail(entries: list[Entry]) -> list[Entry]:
        last = _syscalls(entries)[-1]
        extra = [replace(last, seq=last.seq + 1 + i, name="sched_yield", params=())
                 for i in range(2)]
        return [*entries[:-1], *extra, entries[-1]]
    journal = rewrite_journal(exit_journal, tmp_path / "long.wrr", add_tail)
    result = replay(journal, stdout=BytesIO(), stderr=BytesIO())
    d = result.divergence
    assert d is not None and d.kind is DivergenceKind.EARLY_END
    assert d.remaining == 2
    assert "2 more syscall(s)" in d.summary and "sched_yield" in (d.expected or "")


@pytest.mark.parametrize("ending,expected", [
    (ExitEvent(1, 6), "exit status 6"),
    (TrapEvent(1, "wasm `unreachable` instruction executed"), "trap: wasm `unreachable`"),
])
def test_other_ending_is_a_divergence(exit_journal: Path, tmp_path: Path,
                                      ending: ExitEvent | TrapEvent, expected: str) -> None:
    journal = rewrite_journal(exit_journal, tmp_path / "end.wrr",
                              lambda entries: [*entries[:-1], ending])
    result = replay(journal, stdout=BytesIO(), stderr=BytesIO())
    d = result.divergence
    assert d is not None and d.kind is DivergenceKind.END_MISMATCH
    assert expected in d.summary and "exit status 5" in d.summary
    assert result.exit_code == ExitStatus.DIVERGENCE


def test_trap_replays_with_its_message(guest: Callable[[str], Path], tmp_path: Path) -> None:
    rec = record_guest(guest("trap"), tmp_path / "t.wrr")
    err = BytesIO()
    result = replay(rec.journal, stdout=BytesIO(), stderr=err)
    assert result.divergence is None and result.exit_code == ExitStatus.TRAP
    assert result.trap == rec.result.trap and err.getvalue() == rec.stderr
    # a trap where the journal says the guest exited is a divergence
    journal = rewrite_journal(rec.journal, tmp_path / "t2.wrr",
                              lambda entries: [*entries[:-1], ExitEvent(1, 0)])
    d = replay(journal, stdout=BytesIO(), stderr=BytesIO()).divergence
    assert d is not None and d.kind is DivergenceKind.END_MISMATCH and "trap" in d.summary


def test_cli_divergence_report_for_extra_call(exit_journal: Path, tmp_path: Path) -> None:
    journal = rewrite_journal(exit_journal, tmp_path / "short.wrr",
                              lambda e: [e[0], *_syscalls(e)[:1], ExitEvent(1, 5)])
    proc = wasi_rr("replay", journal, cwd=tmp_path)
    assert proc.returncode == ExitStatus.DIVERGENCE
    err = proc.stderr.decode()
    assert "divergence at syscall #1" in err and "last 1 matching syscall(s)" in err
    assert "Traceback" not in err


def test_bytes_diff_points_at_first_difference() -> None:
    exp, act = bytes_diff(b"A" * 40 + b"xyz", b"A" * 40 + b"xYz")
    assert exp.startswith("at byte 41: ...") and "'AAAAAAAAAAAAAAAxyz'" in exp
    assert "'AAAAAAAAAAAAAAAxYz'" in act
    exp, act = bytes_diff(b"\x00\x01", b"\x00\x02")
    assert "00 01" in exp and "00 02" in act


BIG_WRITER_C = r"""
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char buf[10000];
    memset(buf, 'A', sizeof buf);
    buf[5000] = FILL;
    int fd = open("/data/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf) return 1;
    close(fd);
    write(1, "done\n", 5);
    return 0;
}
"""


def _build_c(tmp: Path, name: str, source: str) -> Path:
    try:
        return compile_source(source, tmp, name, strip=False)
    except GuestBuildError as exc:
        pytest.fail(f"cannot build {name}: {exc}")


def test_large_inputs_stored_as_digest_are_compared_by_digest(tmp_path: Path) -> None:
    same = _build_c(tmp_path, "big_a", BIG_WRITER_C.replace("FILL", "'A'"))
    other = _build_c(tmp_path, "big_b", BIG_WRITER_C.replace("FILL", "'B'"))
    rec = record_guest(same, tmp_path / "big.wrr", tmpfs=["/data"])
    from wasi_rr.journal import InputDigest, open_journal
    with open_journal(rec.journal) as r:
        digests = [e for e in r if isinstance(e, Call)
                   and any(isinstance(i, InputDigest) for i in e.input_data)]
    assert [e.name for e in digests] == ["fd_write"]  # the 10000-byte file write
    ok = replay(rec.journal, stdout=BytesIO(), stderr=BytesIO())
    assert ok.divergence is None and ok.exit_code == 0
    bad = replay(rec.journal, module=other, stdout=BytesIO(), stderr=BytesIO(),
                 warn=lambda _m: None)
    d = bad.divergence
    assert d is not None and d.seq == digests[0].seq
    assert [f.what for f in d.fields] == ["input iovs[0]"]
    assert "sha256" in d.fields[0].expected and "10000 bytes" in d.fields[0].actual
