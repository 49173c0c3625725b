"""``wasi-rr dump`` over the frozen 2.0 sample journal (no wasm needed)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from wasi_rr.cli import main
from wasi_rr.dump import SeqRange, parse_range
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.journal import Call, CtxEvent
from wasi_rr.journal._make_sample import BIG_INPUT, expected_entries

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "journals" / "v2.0-sample.wrr"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    status = main(list(argv))
    cap = capsys.readouterr()
    return status, cap.out.splitlines(), cap.err


@pytest.mark.parametrize("text,want", [
    ("5", SeqRange(5, 5)), ("100-200", SeqRange(100, 200)), ("100-end", SeqRange(100, None)),
    ("0-", SeqRange(0, None)),
])
def test_parse_range(text: str, want: SeqRange) -> None:
    assert parse_range(text) == want


@pytest.mark.parametrize("text", ["", "x", "5-3", "-1", "1-2-3", "a-end"])
def test_bad_range_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError):
        parse_range(text)
    status, out, err = _run(capsys, "dump", str(SAMPLE), text)
    assert status == ExitStatus.USAGE and out == [] and err.startswith("wasi-rr: error: bad range")


def test_text_dump_one_line_per_entry(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = _run(capsys, "dump", str(SAMPLE))
    assert status == 0 and err == ""
    entries = [e for e in expected_entries() if not isinstance(e, CtxEvent)]  # not shown
    assert len(lines) == len(entries)
    assert lines[0].startswith("+++ pid 1 started: argv=['sample.wasm', '--flag', 'héllo']")
    assert lines[-1] == ("+++ pid 1 trapped: wasm trap: wasm `unreachable` instruction "
                         "executed +++")
    for line, entry in zip(lines, entries, strict=True):
        if isinstance(entry, Call):
            tag = f"[pid {entry.pid}] " if entry.pid != 1 else ""
            label = entry.name if entry.module == "wasi_snapshot_preview1" else \
                f"{entry.module}::{entry.name}"
            assert line.startswith(f"{tag}#{entry.seq} {label}("), line
        else:
            assert line.startswith("+++ ") and line.endswith(" +++")
    assert lines[3] == "#2 fd_prestat_get(fd=5) = BADF"  # errno decoded by name
    assert 'path=b"a.txt"' in lines[4] and "dirflags=SYMLINK_FOLLOW" in lines[4]
    assert "oflags=0" in lines[4] and "= SUCCESS {opened_fd=6}" in lines[4]
    assert lines[5].endswith('{nread=16, data=b"hello, journal!\\n"}')
    assert "<5120 bytes, stored as a digest>" in lines[7]  # a hashed input is visibly one
    assert 'iovs=[b"\\x00\\x01\\x02' in lines[8] and "...(5120 bytes)" in lines[8]  # stdout
    assert lines[9] == '#8 fd_write(fd=2, iovs=[b"oops\\n"]) = SUCCESS {nwritten=5}'
    assert lines[10] == ("#9 clock_time_get(id=MONOTONIC, precision=1000) = SUCCESS "
                         "{time=1790000000000002000}")


def test_ranges_select_by_seq(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = _run(capsys, "dump", str(SAMPLE), "2", "20-end", "5-6")
    assert status == 0
    assert [line.split(" #")[0] if line.startswith("[") else line.split()[0]
            for line in lines] == ["#2", "#5", "#6", "#20", "[pid 2]", "#21"]
    assert [int(line.split("#")[1].split()[0]) for line in lines] == [2, 5, 6, 20, 2, 21]
    status, lines, _ = _run(capsys, "dump", str(SAMPLE), "100-end")
    assert status == 0 and lines == []


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = _run(capsys, "dump", "--json", str(SAMPLE))
    assert status == 0
    objs = [json.loads(line) for line in lines]
    assert len(objs) == len(expected_entries())  # ctx events included in JSON
    assert [o["kind"] for o in objs[:2]] == ["start", "syscall"] and objs[-1]["kind"] == "trap"
    assert {"kind": "ctx", "pid": 1, "seq": 20} in objs
    by_seq = {(o["pid"], o["seq"]): o for o in objs if o["kind"] == "syscall"}
    assert len(by_seq) == 26
    assert by_seq[1, 3]["inputs"] == [{"addr": 2100, "data": "a.txt"}]  # UTF-8: a string
    assert by_seq[1, 3]["params"][0] == 3 and by_seq[1, 2]["errno_name"] == "BADF"
    assert by_seq[1, 2]["errno"] == 8 and by_seq[1, 3]["module"] == "wasi_snapshot_preview1"
    rnd = by_seq[1, 5]["writes"][0]
    assert rnd["addr"] == 0x3100 and rnd["data"] == bytes(range(16)).decode()
    clock = by_seq[1, 9]["writes"][0]["data"]
    assert set(clock) == {"base64"} and len(base64.b64decode(clock["base64"])) == 8
    digest = by_seq[1, 6]["inputs"][1]
    assert digest == {"addr": 0x4000, "data": {
        "length": len(BIG_INPUT), "sha256": hashlib.sha256(BIG_INPUT).hexdigest()}}
    assert [by_seq[1, n]["stdio"] for n in (6, 7, 8)] == [0, 1, 2]
    assert by_seq[2, 0]["name"] == "proc_fork" and by_seq[2, 0]["module"] == "wasix_32v1"
    status, lines, _ = _run(capsys, "dump", "--json", "--header", str(SAMPLE), "0")
    header = json.loads(lines[0])
    assert header["kind"] == "header" and header["argv"][0] == "sample.wasm"
    assert header["format"] == [2, 0] and len(header["functions"]) == 10
    assert [json.loads(line)["seq"] for line in lines[1:]] == [0, 0]  # pid 1 and pid 2


def test_stats(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = _run(capsys, "dump", "--stats", str(SAMPLE))
    assert status == 0
    rows = {line.split()[-1]: line.split()[:2] for line in lines[1:] if line[:10].strip().isdigit()}
    assert rows["clock_time_get"] == ["12", "0"]
    assert rows["fd_prestat_get"] == ["2", "1"]
    assert rows["proc_fork"] == ["2", "0"]
    assert rows["total"] == ["26", "1"]
    text = "\n".join(lines)
    assert f"journal size:              {SAMPLE.stat().st_size} bytes" in text
    assert "1 stored as sha256" in text and "bytes per syscall:" in text
    assert "events:                    9" in text
    assert "wall time recorded:        0.000 s" in text  # the sample's trap: 123456 ns


def test_damaged_journal_prints_prefix_then_one_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.wrr"
    cut.write_bytes(SAMPLE.read_bytes()[:-300])
    status, lines, err = _run(capsys, "dump", str(cut))
    assert status == ExitStatus.JOURNAL_ERROR
    assert lines and lines[0].startswith("+++ pid 1 started")
    shown = [e for e in expected_entries() if not isinstance(e, CtxEvent)][:len(lines)]
    read = expected_entries().index(shown[-1]) + 1  # ctx entries count, unshown
    assert err.count("\n") == 1 and f"journal truncated after entry {read}" in err
    bad = tmp_path / "bad.wrr"
    data = bytearray(SAMPLE.read_bytes())
    data[-400] ^= 0xFF
    bad.write_bytes(bytes(data))
    status, lines, err = _run(capsys, "dump", "--stats", str(bad))
    assert status == ExitStatus.JOURNAL_ERROR and "corrupt at byte" in err
    status, lines, err = _run(capsys, "dump", str(tmp_path / "missing.wrr"))
    assert status == ExitStatus.TOOL_ERROR and "cannot read journal" in err


def test_stats_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = _run(capsys, "dump", "--stats", "--json", str(SAMPLE))
    assert status == 0 and len(lines) == 1
    stats = json.loads(lines[0])
    assert stats["syscalls"] == 26 and stats["calls"]["clock_time_get"] == 12
    assert stats["errors"] == {"fd_prestat_get": 1} and stats["hashed_inputs"] == 1
    assert stats["journal_bytes"] == SAMPLE.stat().st_size and stats["wall_ns"] == 123_456
    assert stats["events"] == 9 and stats["frames"] == 11


def test_process_events_are_described_not_inlined(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wasi_rr.host.table import function_names
    from wasi_rr.journal import (
        ForkEvent,
        JournalHeader,
        JournalWriter,
        SnapshotEvent,
        StartEvent,
    )

    path = tmp_path / "p.wrr"
    with JournalWriter(path, JournalHeader(module_sha256="", functions=function_names())) as w:
        w.write_event(StartEvent(1, ("p",)))
        w.write_call(Call(0, "wasi_snapshot_preview1", "sched_yield", (), (), 0, ()))
        w.write_event(SnapshotEvent(1, 1, 1, "every", b"\x00" * 100_000, b"fs", None))
        w.write_event(ForkEvent(1, 2, 1))
    status, lines, _ = _run(capsys, "dump", str(path))
    assert status == 0
    assert lines[2] == ("+++ pid 1 snapshot #1 before syscall #1 (every; 100000 bytes, "
                        "fs 2 bytes) +++")
    assert lines[3] == "+++ pid 1 forked pid 2 at syscall #1 +++"
    status, lines, _ = _run(capsys, "dump", "--json", str(path))
    snap = json.loads(lines[2])
    assert snap["kind"] == "snap" and snap["snapshot_bytes"] == 100_000
    assert "snapshot" not in snap and len(lines[2]) < 1000
    assert json.loads(lines[3]) == {"kind": "fork", "pid": 1, "child": 2, "seq": 1}


def test_other_processes_are_tagged_like_strace_f(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = _run(capsys, "dump", str(SAMPLE))
    assert status == 0
    at = lines.index("+++ pid 1 forked pid 2 at syscall #19 +++")
    assert lines[at - 1].startswith("#19 wasix_32v1::proc_fork(copy_memory=1)")
    assert lines[at + 1].startswith("+++ pid 2 started")
    assert lines[at + 2].startswith("[pid 2] #0 wasix_32v1::proc_fork(") and "ret_pid=0" in \
        lines[at + 2]
    assert lines[at + 3].startswith("[pid 2] #1 clock_time_get(")
    assert lines[at + 4].startswith("#20 clock_time_get(")  # the first process: untagged
    assert lines[at + 5] == "[pid 2] #2 sched_yield() = SUCCESS"
    assert lines[at + 7] == "+++ pid 2 exited with 0 +++"
    assert any(line.startswith("+++ pid 1 snapshot #1 before syscall #19 (every; 2048 bytes, "
                               "fs 90 bytes)") for line in lines)
