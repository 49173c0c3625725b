"""WAT source of the wasm replayer and of the stub that links it, from the table.

The **replayer** answers calls from the tape without leaving wasm. For each
import ``k`` the guest uses it exports ``f<k>`` with the import's type:

1. ``$enter`` checks the record at the cursor: it fits the loaded frame, is a
   call of the expected function (``fidmap[k]``, filled by Python from the
   journal's function list), has the right number of params and a valid errno,
   and another call of the frame follows it (the call before an event or the
   frame's end is answered in Python, which sees what follows: an interrupted
   recording's ending stops the replay there, ``answer.py``);
2. the generated body compares every param with the recorded u64;
3. ``$body`` walks the input descriptors comparing guest memory with the
   recorded bytes (8 bytes at a time), validates every write (inside the record,
   inside guest memory), checks the record's size adds up, then copies the
   recorded writes into guest memory and, for a record marked stdout/stderr,
   appends the bytes that went out to the output area;
4. ``$finish`` advances the cursor and returns the recorded errno.

Anything else (a mismatch, a digest, an event next, the frame's end next, a
full output area, a debugger stop) calls the import's Python twin ``slow.f<k>``, which
redoes the call from the record in Python and reports exactly (``answer.py``).
Nothing is written to guest memory before every check passed, so the Python
path always starts from an untouched call. Irregular calls are re-exported
Python functions. The **stub** is what the guest links to: one function per
import doing ``call_indirect`` through a table that Python fills with the
replayer's exports once both exist (the replayer needs the guest's memory,
the guest needs its imports: the table breaks the cycle without rewriting
the guest, so replay shares ``run``'s compiled module).

Both depend only on the list of imports, never on a journal, so they are
compiled once per import set and cached like any module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from wasi_rr.host.boundary.stub import wat_signature
from wasi_rr.host.table import Role, Signature, WasmType

# -- the control block at the start of the tape memory (shared with replayer.py) -------
CURSOR: Final = 0
END: Final = 4
ANSWERED: Final = 8
OUT_POS: Final = 12
OUT_END: Final = 16
DISABLED: Final = 20
STOP_AFTER: Final = 24
FIDMAP: Final = 64
OUT_BASE: Final = 4096
OUT_SIZE: Final = 60 * 1024
TAPE_BASE: Final = OUT_BASE + OUT_SIZE
STDERR_BIT: Final = 0x8000_0000
REPLAYER_NAME: Final = "wasi-rr-replayer"

_HELPERS: Final = f"""
  (func $enter (param $k i32) (param $n i32) (result i32)
    (local $rec i32) (local $size i32)
    (if (i32.load $tape (i32.const {DISABLED})) (then (return (i32.const 0))))
    (if (i32.eq (i32.load $tape (i32.const {ANSWERED})) (i32.load $tape (i32.const {STOP_AFTER})))
      (then (return (i32.const 0))))
    (local.set $rec (i32.load $tape (i32.const {CURSOR})))
    (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $rec)) (i64.const 16))
                  (i64.extend_i32_u (i32.load $tape (i32.const {END}))))
      (then (return (i32.const 0))))
    (local.set $size (i32.load $tape (local.get $rec)))
    (if (i32.lt_u (local.get $size) (i32.const 16)) (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $size)
                  (i32.sub (i32.load $tape (i32.const {END})) (local.get $rec)))
      (then (return (i32.const 0))))
    ;; the last call before an event or the frame's end is Python's: a recording
    ;; stopped by Ctrl-C ends there, and the replay must stop there by itself
    (if (i32.gt_u (i32.add (i32.add (local.get $rec) (local.get $size)) (i32.const 16))
                  (i32.load $tape (i32.const {END})))
      (then (return (i32.const 0))))
    (if (i32.eq (i32.load16_u $tape offset=4 (i32.add (local.get $rec) (local.get $size)))
                (i32.const 0xFFFF))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load16_u $tape offset=4 (local.get $rec))
                (i32.load16_u $tape offset={FIDMAP}
                              (i32.shl (local.get $k) (i32.const 1))))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u $tape offset=7 (local.get $rec)) (local.get $n))
      (then (return (i32.const 0))))
    (if (i32.gt_u (i32.load $tape offset=12 (local.get $rec)) (i32.const 0xFFFF))
      (then (return (i32.const 0))))
    (local.get $rec))

  (func $eq (param $g i32) (param $t i32) (param $n i32) (result i32)
    (block $done
      (loop $eight
        (br_if $done (i32.lt_u (local.get $n) (i32.const 8)))
        (if (i64.ne (i64.load $guest (local.get $g)) (i64.load $tape (local.get $t)))
          (then (return (i32.const 0))))
        (local.set $g (i32.add (local.get $g) (i32.const 8)))
        (local.set $t (i32.add (local.get $t) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 8)))
        (br $eight)))
    (block $done1
      (loop $one
        (br_if $done1 (i32.eqz (local.get $n)))
        (if (i32.ne (i32.load8_u $guest (local.get $g)) (i32.load8_u $tape (local.get $t)))
          (then (return (i32.const 0))))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $one)))
    (i32.const 1))

  ;; is [addr, addr+len) inside guest memory and [b, b+len) inside the record?
  (func $fits (param $addr i32) (param $len i32) (param $b i32) (param $end i32)
              (param $gsize i64) (result i32)
    (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $b)) (i64.extend_i32_u (local.get $len)))
                  (i64.extend_i32_u (local.get $end)))
      (then (return (i32.const 0))))
    (i64.le_u (i64.add (i64.extend_i32_u (local.get $addr)) (i64.extend_i32_u (local.get $len)))
              (local.get $gsize)))

  ;; $stdio: 0 none allowed; else the address of the u32 count the call wrote
  ;; (+1, so that address 0 is usable). Returns 1 when answered, 0 for Python.
  (func $body (param $rec i32) (param $n i32) (param $stdio i32) (result i32)
    (local $end i32) (local $nin i32) (local $nw i32) (local $d i32) (local $b i32)
    (local $i i32) (local $addr i32) (local $len i32) (local $gsize i64) (local $flags i32)
    (local $wd i32) (local $wb i32) (local $out1 i32) (local $outn i32) (local $cnt i32)
    (local $pos i32)
    (local.set $end (i32.add (local.get $rec) (i32.load $tape (local.get $rec))))
    (local.set $nin (i32.load16_u $tape offset=8 (local.get $rec)))
    (local.set $nw (i32.load16_u $tape offset=10 (local.get $rec)))
    (local.set $flags (i32.load8_u $tape offset=6 (local.get $rec)))
    (if (local.get $flags)
      (then (if (i32.or (i32.eqz (local.get $stdio)) (i32.gt_u (local.get $flags) (i32.const 2)))
              (then (return (i32.const 0))))))
    (local.set $d (i32.add (local.get $rec)
                           (i32.add (i32.const 16) (i32.shl (local.get $n) (i32.const 3)))))
    (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $d))
                           (i64.shl (i64.extend_i32_u (i32.add (local.get $nin) (local.get $nw)))
                                    (i64.const 3)))
                  (i64.extend_i32_u (local.get $end)))
      (then (return (i32.const 0))))
    (local.set $b (i32.add (local.get $d)
                           (i32.shl (i32.add (local.get $nin) (local.get $nw)) (i32.const 3))))
    (local.set $gsize (i64.shl (i64.extend_i32_u (memory.size $guest)) (i64.const 16)))
    (block $ins_done
      (loop $ins
        (br_if $ins_done (i32.ge_u (local.get $i) (local.get $nin)))
        (local.set $addr (i32.load $tape (local.get $d)))
        (local.set $len (i32.load $tape offset=4 (local.get $d)))
        (if (i32.and (local.get $len) (i32.const 0x80000000)) (then (return (i32.const 0))))
        (if (i32.eqz (call $fits (local.get $addr) (local.get $len) (local.get $b)
                                 (local.get $end) (local.get $gsize)))
          (then (return (i32.const 0))))
        (if (i32.eqz (call $eq (local.get $addr) (local.get $b) (local.get $len)))
          (then (return (i32.const 0))))
        (if (i32.eq (local.get $i) (i32.const 1)) (then (local.set $out1 (local.get $b))))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (local.set $b (i32.add (local.get $b) (local.get $len)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ins)))
    (if (i32.ge_u (local.get $nin) (i32.const 2))
      (then (local.set $outn (i32.sub (local.get $b) (local.get $out1)))))
    (local.set $wd (local.get $d))
    (local.set $wb (local.get $b))
    (local.set $i (i32.const 0))
    (block $ws_done
      (loop $ws
        (br_if $ws_done (i32.ge_u (local.get $i) (local.get $nw)))
        (local.set $addr (i32.load $tape (local.get $d)))
        (local.set $len (i32.load $tape offset=4 (local.get $d)))
        (if (i32.eqz (call $fits (local.get $addr) (local.get $len) (local.get $b)
                                 (local.get $end) (local.get $gsize)))
          (then (return (i32.const 0))))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (local.set $b (i32.add (local.get $b) (local.get $len)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ws)))
    (if (i32.ne (local.get $b) (local.get $end)) (then (return (i32.const 0))))
    (local.set $pos (i32.load $tape (i32.const {OUT_POS})))
    (if (local.get $flags)
      (then (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $pos))
                                   (i64.add (i64.extend_i32_u (local.get $outn)) (i64.const 4)))
                          (i64.extend_i32_u (i32.load $tape (i32.const {OUT_END}))))
              (then (return (i32.const 0))))))
    (local.set $i (i32.const 0))
    (block $apply_done
      (loop $apply
        (br_if $apply_done (i32.ge_u (local.get $i) (local.get $nw)))
        (local.set $addr (i32.load $tape (local.get $wd)))
        (local.set $len (i32.load $tape offset=4 (local.get $wd)))
        (memory.copy $guest $tape (local.get $addr) (local.get $wb) (local.get $len))
        (local.set $wd (i32.add (local.get $wd) (i32.const 8)))
        (local.set $wb (i32.add (local.get $wb) (local.get $len)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $apply)))
    (if (local.get $flags)
      (then
        (local.set $cnt (i32.const 0))
        (if (i64.le_u (i64.add (i64.extend_i32_u (local.get $stdio)) (i64.const 3))
                      (local.get $gsize))
          (then (local.set $cnt (i32.load $guest (i32.sub (local.get $stdio) (i32.const 1))))))
        (if (i32.gt_u (local.get $cnt) (local.get $outn)) (then (local.set $cnt (local.get $outn))))
        (i32.store $tape (local.get $pos)
          (i32.or (local.get $cnt)
                  (select (i32.const {STDERR_BIT}) (i32.const 0)
                          (i32.eq (local.get $flags) (i32.const 2)))))
        (memory.copy $tape $tape (i32.add (local.get $pos) (i32.const 4)) (local.get $out1)
                     (local.get $cnt))
        (i32.store $tape (i32.const {OUT_POS})
                   (i32.add (local.get $pos) (i32.add (local.get $cnt) (i32.const 4))))))
    (i32.const 1))

  (func $finish (param $rec i32) (result i32)
    (i32.store $tape (i32.const {CURSOR})
               (i32.add (local.get $rec) (i32.load $tape (local.get $rec))))
    (i32.store $tape (i32.const {ANSWERED})
               (i32.add (i32.load $tape (i32.const {ANSWERED})) (i32.const 1)))
    (i32.load $tape offset=12 (local.get $rec)))
"""


def answerable(sig: Signature) -> bool:
    """Whether the replayer answers ``sig`` in wasm (else it re-exports Python)."""
    return sig.irregular is None and sig.result is not None


def _stdio_count_param(sig: Signature) -> int | None:
    """For a call whose bytes may reach stdout: the param where it writes its count."""
    if not sig.stdio:
        return None
    for i, p in enumerate(sig.params):
        if p.role is Role.OUT and p.out is not None and p.out.size == 4:
            return i
    return None


def _function(k: int, sig: Signature) -> str:
    n = len(sig.params)
    args = " ".join(f"(local.get {i})" for i in range(n))
    slow = f"(return (call $slow{k} {args}))"
    lines = [f"  (func $f{k} (export \"f{k}\") {wat_signature(sig)}",
             "    (local $rec i32)",
             f"    (local.set $rec (call $enter (i32.const {k}) (i32.const {n})))",
             f"    (if (i32.eqz (local.get $rec)) (then {slow}))"]
    for i, p in enumerate(sig.params):
        value = f"(local.get {i})" if p.wasm is WasmType.I64 else \
            f"(i64.extend_i32_u (local.get {i}))"
        lines.append(f"    (if (i64.ne (i64.load $tape offset={16 + 8 * i} (local.get $rec)) "
                     f"{value}) (then {slow}))")
    count = _stdio_count_param(sig)
    stdio = "(i32.const 0)" if count is None else \
        f"(i32.add (local.get {count}) (i32.const 1))"
    lines.append(f"    (if (i32.eqz (call $body (local.get $rec) (i32.const {n}) {stdio})) "
                 f"(then {slow}))")
    lines.append("    (call $finish (local.get $rec)))")
    return "\n".join(lines)


def replayer_wat(sigs: Sequence[Signature]) -> str:
    """The replayer for a guest importing ``sigs`` (in this order: ``f<k>`` serves
    ``sigs[k]``)."""
    parts = [f"(module ${REPLAYER_NAME}",
             '  (import "guest" "memory" (memory $guest 0))',
             '  (import "rr" "tape" (memory $tape 1))']
    for k, sig in enumerate(sigs):
        parts.append(f'  (import "slow" "f{k}" (func $slow{k} {wat_signature(sig)}))')
    parts.append(_HELPERS)
    for k, sig in enumerate(sigs):
        if answerable(sig):
            parts.append(_function(k, sig))
        else:
            parts.append(f'  (export "f{k}" (func $slow{k}))')
    parts.append(")")
    return "\n".join(parts)
