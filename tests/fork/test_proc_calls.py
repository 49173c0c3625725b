"""The WASIX process calls' argument handling and errnos, from a hand-written
module (journaled, so every errno and write is visible)."""

from __future__ import annotations

import io
from pathlib import Path

from wasi_rr.api import RunConfig
from wasi_rr.journal import Call, open_journal
from wasi_rr.record import record

WAT = """(module
  (import "wasix_32v1" "proc_id" (func $id (param i32) (result i32)))
  (import "wasix_32v1" "proc_parent" (func $parent (param i32 i32) (result i32)))
  (import "wasix_32v1" "proc_join" (func $join (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $id (i32.const 16)))
    (drop (call $parent (i32.const 1) (i32.const 20)))
    (drop (call $parent (i32.const 99) (i32.const 20)))
    (drop (call $id (i32.const 70000)))
    (i32.store8 (i32.const 32) (i32.const 5))
    (drop (call $join (i32.const 32) (i32.const 0) (i32.const 48)))
    (i32.store8 (i32.const 32) (i32.const 0))
    (drop (call $join (i32.const 32) (i32.const 0) (i32.const 48)))
    (drop (call $join (i32.const 32) (i32.const 1) (i32.const 48)))))
"""


def test_proc_calls_errnos(tmp_path: Path) -> None:
    module = tmp_path / "procs.wat"
    module.write_text(WAT)
    result = record(RunConfig(module=module, stdout=io.BytesIO(), stderr=io.BytesIO()),
                    tmp_path / "p.wrr")
    assert (result.exit_code, result.trap) == (0, None)
    with open_journal(tmp_path / "p.wrr") as r:
        calls = [(e.name, e.errno, e.writes) for e in r if isinstance(e, Call)]
    assert calls == [
        ("proc_id", 0, ((16, (1).to_bytes(4, "little")),)),
        ("proc_parent", 0, ((20, (0).to_bytes(4, "little")),)),  # pid 1 has no parent
        ("proc_parent", 71, ()),    # ESRCH
        ("proc_id", 21, ()),        # EFAULT: out of bounds
        ("proc_join", 28, ()),      # EINVAL: OptionPid tag 5
        ("proc_join", 12, ()),      # ECHILD: no children
        ("proc_join", 12, ()),      # ECHILD, also non-blocking
    ]


def test_join_results_are_formatted_by_name() -> None:
    from wasi_rr.host.table import OutKind
    from wasi_rr.host.table.format import format_call

    assert OutKind.OPTION_PID is not OutKind.PRESTAT  # distinct members, same layout
    line = format_call("wasix_32v1", "proc_join", (64, 0, 72), [bytes(8)], 0,
                       [(64, bytes([1, 0, 0, 0, 2, 0, 0, 0])),
                        (72, bytes([1, 0, 0, 0, 7, 0, 0, 0]))])
    assert "option_pid={pid=2}" in line and "ret_join_status={exit_normal=7}" in line
