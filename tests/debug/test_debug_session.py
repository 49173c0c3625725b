"""``wasi-rr debug --batch --json``: one scripted session per command family."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from debug_helpers import cli, debug_session


def test_moving_back_returns_to_the_same_state(stale_journal: Callable[[bool], Path]) -> None:
    out = debug_session(stale_journal(True), [
        "goto 18", "info memory", "fds", "next", "info memory", "reverse-next",
        "info memory", "fds", "goto 3", "goto 19", "info", "goto 2", "goto 19", "info"])
    assert out[0]["seq"] == 18 and out[0]["call"] == "fd_read"
    assert out[3]["seq"] == 19 and out[4]["sha256"] != out[1]["sha256"]
    assert out[5]["seq"] == 18
    assert out[6]["sha256"] == out[1]["sha256"]
    assert out[7]["fds"] == out[2]["fds"]
    assert out[10]["text"] == out[13]["text"] and out[10]["seq"] == 19


def test_breakpoints_find_the_stale_write_and_its_read(
        stale_journal: Callable[[bool], Path]) -> None:
    out = debug_session(stale_journal(True), [
        "break fd_write fd=5 data=/\\nr/", "continue", "x 0 4", "break fd_read fd=4",
        "reverse-continue", "info", "info break", "delete 1", "break path_open path=*.txt",
        "break fd_close errno=fail", "continue", "continue", "continue"])
    assert out[0]["matches"] == 1
    assert out[1]["seq"] == 19 and out[1]["breakpoints"] == [1]
    assert out[4]["seq"] == 18 and "nread=15" in out[5]["text"]
    assert [b["id"] for b in out[6]["breakpoints"]] == [1, 2]
    assert out[9]["matches"] == 0 and "never hit" in out[9]["text"]
    assert out[10]["seq"] == 20            # the next fd_read after 18
    assert out[11]["end"] is True and out[11]["never_hit"] == [4]
    assert "exited with status 1" in out[11]["text"]
    assert not out[12]["ok"] and "ended" in out[12]["error"]


def test_bad_input_is_one_clear_message(stale_journal: Callable[[bool], Path]) -> None:
    out = debug_session(stale_journal(True), [
        "frobnicate", "goto 999", "break nosuch", "break fd_write fd=x", "break fd_write bad",
        "break fd_write data=/(/", "watch 1", "x 0xffffffff 8", "p i64", "delete 7", "info"])
    assert [o["ok"] for o in out] == [False] * 10 + [True]
    assert "unknown command" in out[0]["error"]
    assert "no syscall #999" in out[1]["error"]
    assert "no syscall named 'nosuch'" in out[2]["error"]


def test_looking(stale_journal: Callable[[bool], Path]) -> None:
    out = debug_session(stale_journal(True), [
        "goto 19", "bt", "fds", "ls /data", "cat /data/copy.txt", "stat /data/input.txt",
        "args", "env", "output", "p i32 0", "x 0 32", "help"])
    frames = out[1]["frames"]
    assert [f["name"] for f in frames[:3]] == ["__wasi_fd_write", "write", "main"]
    assert frames[2]["file"].endswith("debug_stale.c") and frames[2]["line"] > 0
    fds = {r["fd"]: r for r in out[2]["fds"]}
    assert fds[5]["path"] == "/data/copy.txt" and fds[5]["offset"] == 16
    assert out[3]["entries"] == ["copy.txt", "input.txt"]
    assert out[4]["text"] == "alpha bravo char"
    assert out[5]["size"] == 31
    assert out[8]["stdout"] == "chunk 0: 16 bytes read, checksum 2791456046\n"
    assert len(out[10]["hex"]) == 64


def test_bt_without_dwarf_names_functions_only(stale_journal: Callable[[bool], Path]) -> None:
    out = debug_session(stale_journal(False), ["goto 19", "bt", "bt"])
    assert out[1]["frames"] and all(f["file"] is None for f in out[1]["frames"])
    assert any("no DWARF" in n for n in out[1].get("notes", []))
    assert "notes" not in out[2]


def test_watchpoint(stale_journal: Callable[[bool], Path]) -> None:
    out = debug_session(stale_journal(True), [
        "goto 14", "bt", "watch 0 4", "continue", "reverse-continue"])
    assert out[3]["ok"]


def test_snapshot_then_resume_prints_the_rest(stale_journal: Callable[[bool], Path],
                                              tmp_path: Path) -> None:
    journal = stale_journal(True)
    whole = cli("replay", journal)
    branch = tmp_path / "branch.wrr"
    out = debug_session(journal, ["goto 18", f"snapshot -o {branch}"])
    assert out[1]["ok"], out[1]
    for _ in range(2):
        resumed = cli("resume", branch, cwd=tmp_path)
        assert resumed.returncode == whole.returncode == 1
        assert resumed.stdout == b"chunk 1: 15 bytes read, checksum 2585628301\n" \
                                 b"copied 2 chunks, 32 bytes\n"
        assert whole.stdout.endswith(resumed.stdout)
        assert resumed.stderr.endswith(b"copy is 32 bytes, input is 31\n")


def test_resume_at_any_syscall(stale_journal: Callable[[bool], Path], tmp_path: Path) -> None:
    journal = stale_journal(False)
    whole = cli("replay", journal)
    for at in (0, 16, 24):
        resumed = cli("resume", "--at", str(at), journal)
        assert resumed.returncode == 1
        assert b"by re-executing the journal" in resumed.stderr
        assert whole.stdout.endswith(resumed.stdout)
    assert cli("resume", "--at", "999", journal).returncode == 125


def test_fork_journal(recorded: Callable[..., Path]) -> None:
    journal = recorded("wasix_fork_pipe", tmpfs=None)
    out = debug_session(journal, ["info", "next 5", "bt", "goto 2", "continue",
                                  "reverse-next 3", "snapshot -o /nonexistent/x.wrr"])
    assert all(o["ok"] for o in out[:6])
    assert {o["pid"] for o in out} <= {1, 2, 3}
    assert not out[6]["ok"]


def test_damaged_journal(stale_journal: Callable[[bool], Path], tmp_path: Path) -> None:
    damaged = tmp_path / "cut.wrr"
    data = stale_journal(False).read_bytes()
    damaged.write_bytes(data[:-40])
    out = debug_session(damaged, ["info", "goto 5", "continue"])
    assert out[0]["ok"]
    assert any("damaged" in n for n in out[0].get("notes", []))
    assert out[2]["end"] is True


def test_unreadable_journal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wrr"
    bad.write_bytes(b"not a journal")
    done = cli("debug", "--batch", bad)
    assert done.returncode == 126 and done.stderr.count(b"\n") == 1


def test_gdb_break_at_and_a_guest_function(stale_journal: Callable[[bool], Path]) -> None:
    import pytest

    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed (Debian package: gdb)")
    done = cli("replay", "--gdb", "--break-at", "18", stale_journal(True),
               stdin=b"break checksum_chunk\nrun\ncontinue\ncontinue\nprint got\n", timeout=300)
    text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert "stopped at syscall #18" in text
    assert "got=15" in text and "$1 = 15" in text
