"""WAT source of the wasm replayer and of the stub that links it, from the table.

The **replayer** answers calls from the tape without leaving wasm. For each
row ``t`` of the table (``host.boundary.stub.ROWS``) it exports ``f<t>`` with the
row's type. Its body
is the steps below written out inline, in this order (Cranelift inlines no wasm
calls, and a call's prologue and epoch check cost about as much as a step, so
shared helper functions made every answered call measurably slower):

1. *enter*: the record at the cursor fits the loaded frame, is a call of the
   expected function (``fidmap[t]``, filled by Python from the journal's
   function list), has the right number of params and a valid errno, and
   another call of the frame follows it (the call before an event or the
   frame's end is answered in Python, which sees what follows: an interrupted
   recording's ending stops the replay there, ``answer.py``);
2. *params*: every param equals the recorded u64;
3. *inputs*: guest memory holds every recorded input byte (8 bytes at a time,
   then a 4-, 2- and 1-byte tail); *writes*: every recorded write lies inside
   the record and inside guest memory, and the record's size adds up; for a
   record marked stdout/stderr, the output area has room;
4. *apply*: the recorded writes are copied into guest memory, and the bytes
   that went to stdout/stderr are appended to the output area;
5. *finish*: the cursor advances and the recorded errno is returned.

Anything else (a mismatch, a digest, an event next, the frame's end next, a
full output area, a debugger stop) calls the row's Python twin through slot
``t`` of the ``slow`` table (filled by Python with the adapter's callbacks for
the guest's imports), which redoes the call from the record in Python and
reports exactly (``answer.py``). Nothing is written to guest memory before
every check passed, so the Python path always starts from an untouched call.
Rows the replayer does not answer (irregular calls) get no ``f<t>``: the stub's
slot points straight at the Python callback. The **stub** is what the guest
links to (``host.boundary.stub``): the replayer needs the guest's memory, the
guest needs its imports, and the stub's table breaks the cycle without
rewriting the guest, so replay shares ``run``'s compiled module.

The replayer covers every row of the table and depends on nothing else (not
the guest, not the journal), so it is compiled once per version of wasi-rr and
then loaded from the module cache: a new guest's first replay compiles nothing.
"""

from __future__ import annotations

import functools
from typing import Final

from wasi_rr.host.boundary.stub import ROWS, wat_signature
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
"""u16 per table row: the journal's function id of that row (0xFFFF: none)."""
OUT_BASE: Final = 4096
OUT_SIZE: Final = 60 * 1024
TAPE_BASE: Final = OUT_BASE + OUT_SIZE
STDERR_BIT: Final = 0x8000_0000
REPLAYER_NAME: Final = "wasi-rr-replayer"

_LOCALS: Final = " ".join(
    f"(local ${name} {t})" for name, t in (
        ("rec", "i32"), ("size", "i32"), ("tend", "i32"), ("end", "i32"), ("nin", "i32"),
        ("nw", "i32"), ("d", "i32"), ("b", "i32"), ("i", "i32"), ("addr", "i32"),
        ("len", "i32"), ("gsize", "i64"), ("flags", "i32"), ("wd", "i32"), ("wb", "i32"),
        ("out1", "i32"), ("outn", "i32"), ("cnt", "i32"), ("pos", "i32"), ("g", "i32"),
        ("t", "i32"), ("n", "i32")))
"""Every function's scratch locals (one set: the steps below share them)."""


def _u64(expr: str) -> str:
    return f"(i64.extend_i32_u {expr})"


def _enter(t: int, n: int) -> str:
    """Step 1: the record at the cursor is a whole call of row ``t`` with ``n``
    params and a valid errno, and another call of the frame follows it."""
    return f"""
    (br_if $slow (i32.load $tape (i32.const {DISABLED})))
    (br_if $slow (i32.eq (i32.load $tape (i32.const {ANSWERED}))
                         (i32.load $tape (i32.const {STOP_AFTER}))))
    (local.set $rec (i32.load $tape (i32.const {CURSOR})))
    (local.set $tend (i32.load $tape (i32.const {END})))
    (br_if $slow (i64.gt_u (i64.add {_u64("(local.get $rec)")} (i64.const 16))
                           {_u64("(local.get $tend)")}))
    (local.set $size (i32.load $tape (local.get $rec)))
    (br_if $slow (i32.lt_u (local.get $size) (i32.const 16)))
    (br_if $slow (i32.gt_u (local.get $size) (i32.sub (local.get $tend) (local.get $rec))))
    (local.set $end (i32.add (local.get $rec) (local.get $size)))
    ;; the last call before an event or the frame's end is Python's: a recording
    ;; stopped by Ctrl-C ends there, and the replay must stop there by itself
    (br_if $slow (i64.gt_u (i64.add {_u64("(local.get $end)")} (i64.const 16))
                           {_u64("(local.get $tend)")}))
    (br_if $slow (i32.eq (i32.load16_u $tape offset=4 (local.get $end)) (i32.const 0xFFFF)))
    (br_if $slow (i32.ne (i32.load16_u $tape offset=4 (local.get $rec))
                         (i32.load16_u $tape (i32.const {FIDMAP + 2 * t}))))
    (br_if $slow (i32.ne (i32.load8_u $tape offset=7 (local.get $rec)) (i32.const {n})))
    (br_if $slow (i32.gt_u (i32.load $tape offset=12 (local.get $rec)) (i32.const 0xFFFF)))"""


def _params(sig: Signature) -> str:
    """Step 2: every param equals the recorded u64."""
    lines = []
    for i, p in enumerate(sig.params):
        value = f"(local.get {i})" if p.wasm is WasmType.I64 else _u64(f"(local.get {i})")
        lines.append(f"    (br_if $slow (i64.ne (i64.load $tape offset={16 + 8 * i} "
                     f"(local.get $rec)) {value}))")
    return "\n".join(lines)


def _fits(buf: str) -> str:
    """[addr, addr+len) inside guest memory and [buf, buf+len) inside the record."""
    return f"""
        (br_if $slow (i64.gt_u (i64.add {_u64(f"(local.get {buf})")} {_u64("(local.get $len)")})
                               {_u64("(local.get $end)")}))
        (br_if $slow (i64.gt_u (i64.add {_u64("(local.get $addr)")} {_u64("(local.get $len)")})
                               (local.get $gsize)))"""


_EQ: Final = """
        (local.set $g (local.get $addr))
        (local.set $t (local.get $b))
        (local.set $n (local.get $len))
        (block $eq_done
          (loop $eq8
            (br_if $eq_done (i32.lt_u (local.get $n) (i32.const 8)))
            (br_if $slow (i64.ne (i64.load $guest (local.get $g)) (i64.load $tape (local.get $t))))
            (local.set $g (i32.add (local.get $g) (i32.const 8)))
            (local.set $t (i32.add (local.get $t) (i32.const 8)))
            (local.set $n (i32.sub (local.get $n) (i32.const 8)))
            (br $eq8)))
        (if (i32.ge_u (local.get $n) (i32.const 4))
          (then
            (br_if $slow (i32.ne (i32.load $guest (local.get $g)) (i32.load $tape (local.get $t))))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (local.set $n (i32.sub (local.get $n) (i32.const 4)))))
        (if (i32.ge_u (local.get $n) (i32.const 2))
          (then
            (br_if $slow (i32.ne (i32.load16_u $guest (local.get $g))
                                 (i32.load16_u $tape (local.get $t))))
            (local.set $g (i32.add (local.get $g) (i32.const 2)))
            (local.set $t (i32.add (local.get $t) (i32.const 2)))
            (local.set $n (i32.sub (local.get $n) (i32.const 2)))))
        (if (local.get $n)
          (then (br_if $slow (i32.ne (i32.load8_u $guest (local.get $g))
                                     (i32.load8_u $tape (local.get $t))))))"""
"""Guest bytes at ``$addr`` equal the record's at ``$b`` (``$len`` bytes): 8 at a
time, then the tail as 4, 2 and 1 without a loop (every loop iteration carries
an epoch check; a byte loop over the tail cost several percent of a replay)."""


def _inputs(n: int) -> str:
    """Step 3a: guest memory holds the recorded input bytes; ``$out1`` marks the
    second input (the bytes a stdout/stderr write sent)."""
    return f"""
    (local.set $nin (i32.load16_u $tape offset=8 (local.get $rec)))
    (local.set $nw (i32.load16_u $tape offset=10 (local.get $rec)))
    (local.set $d (i32.add (local.get $rec) (i32.const {16 + 8 * n})))
    (br_if $slow (i64.gt_u (i64.add {_u64("(local.get $d)")}
                                    (i64.shl {_u64("(i32.add (local.get $nin) (local.get $nw))")}
                                             (i64.const 3)))
                           {_u64("(local.get $end)")}))
    (local.set $b (i32.add (local.get $d)
                           (i32.shl (i32.add (local.get $nin) (local.get $nw)) (i32.const 3))))
    (local.set $gsize (i64.shl (i64.extend_i32_u (memory.size $guest)) (i64.const 16)))
    (block $ins_done
      (loop $ins
        (br_if $ins_done (i32.ge_u (local.get $i) (local.get $nin)))
        (local.set $addr (i32.load $tape (local.get $d)))
        (local.set $len (i32.load $tape offset=4 (local.get $d)))
        (br_if $slow (i32.and (local.get $len) (i32.const 0x80000000))){_fits("$b")}{_EQ}
        (if (i32.eq (local.get $i) (i32.const 1)) (then (local.set $out1 (local.get $b))))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (local.set $b (i32.add (local.get $b) (local.get $len)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ins)))
    (if (i32.ge_u (local.get $nin) (i32.const 2))
      (then (local.set $outn (i32.sub (local.get $b) (local.get $out1)))))"""


_WRITES: Final = f"""
    (local.set $wd (local.get $d))
    (local.set $wb (local.get $b))
    (local.set $i (i32.const 0))
    (block $ws_done
      (loop $ws
        (br_if $ws_done (i32.ge_u (local.get $i) (local.get $nw)))
        (local.set $addr (i32.load $tape (local.get $d)))
        (local.set $len (i32.load $tape offset=4 (local.get $d))){_fits("$b")}
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (local.set $b (i32.add (local.get $b) (local.get $len)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ws)))
    (br_if $slow (i32.ne (local.get $b) (local.get $end)))"""
"""Step 3b: every recorded write lies inside the record and inside guest memory,
and the record's size adds up."""

_APPLY: Final = """
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
        (br $apply)))"""
"""Step 4 (every check passed): the recorded writes go into guest memory."""


def _stdio(count: int | None) -> tuple[str, str, str]:
    """The stdout/stderr steps: (the record's stdio mark is one this call can
    have; before writing: room in the output area; after: append the bytes that
    went out). A call that cannot reach stdio leaves any marked record to Python."""
    if count is None:
        return "\n    (br_if $slow (i32.load8_u $tape offset=6 (local.get $rec)))", "", ""
    check = """
    (local.set $flags (i32.load8_u $tape offset=6 (local.get $rec)))
    (br_if $slow (i32.gt_u (local.get $flags) (i32.const 2)))"""
    room = f"""
    (local.set $pos (i32.load $tape (i32.const {OUT_POS})))
    (if (local.get $flags)
      (then (br_if $slow (i64.gt_u (i64.add {_u64("(local.get $pos)")}
                                          (i64.add {_u64("(local.get $outn)")} (i64.const 4)))
                                   {_u64(f"(i32.load $tape (i32.const {OUT_END}))")}))))"""
    append = f"""
    (if (local.get $flags)
      (then
        (local.set $cnt (i32.const 0))
        ;; the count the call wrote (clamped: a guest may pass a bad pointer)
        (if (i64.le_u (i64.add {_u64(f"(local.get {count})")} (i64.const 4)) (local.get $gsize))
          (then (local.set $cnt (i32.load $guest (local.get {count})))))
        (if (i32.gt_u (local.get $cnt) (local.get $outn)) (then (local.set $cnt (local.get $outn))))
        (i32.store $tape (local.get $pos)
          (i32.or (local.get $cnt)
                  (select (i32.const {STDERR_BIT}) (i32.const 0)
                          (i32.eq (local.get $flags) (i32.const 2)))))
        (memory.copy $tape $tape (i32.add (local.get $pos) (i32.const 4)) (local.get $out1)
                     (local.get $cnt))
        (i32.store $tape (i32.const {OUT_POS})
                   (i32.add (local.get $pos) (i32.add (local.get $cnt) (i32.const 4))))))"""
    return check, room, append


_FINISH: Final = f"""
    (i32.store $tape (i32.const {CURSOR}) (local.get $end))
    (i32.store $tape (i32.const {ANSWERED})
               (i32.add (i32.load $tape (i32.const {ANSWERED})) (i32.const 1)))
    (return (i32.load $tape offset=12 (local.get $rec)))"""
"""Step 5: advance the cursor, count the call, return the recorded errno."""


def answerable(sig: Signature) -> bool:
    """Whether the replayer answers ``sig`` in wasm (else the stub calls the
    Python callback directly)."""
    return sig.irregular is None and sig.result is not None


def _stdio_count_param(sig: Signature) -> int | None:
    """For a call whose bytes may reach stdout: the param where it writes its count."""
    if not sig.stdio:
        return None
    for i, p in enumerate(sig.params):
        if p.role is Role.OUT and p.out is not None and p.out.size == 4:
            return i
    return None


def _function(t: int, sig: Signature) -> str:
    """``f<t>``: the steps inline, any failed check leaving the block for the
    row's Python twin (slot ``t`` of the ``slow`` table)."""
    n = len(sig.params)
    args = " ".join(f"(local.get {i})" for i in range(n))
    mark, room, append = _stdio(_stdio_count_param(sig))
    return (f'  (func $f{t} (export "f{t}") (type $t{t})\n    {_LOCALS}\n'
            f"    (block $slow{_enter(t, n)}\n{_params(sig)}{mark}{_inputs(n)}{_WRITES}"
            f"{room}{_APPLY}{append}{_FINISH})\n"
            f"    (call_indirect $slow (type $t{t}) {args} (i32.const {t})))")


@functools.cache
def replayer_wat() -> str:
    """The replayer: ``f<t>`` for every answerable row ``t`` of ``ROWS`` (a
    constant of the installed code, generated once per process)."""
    parts = [f"(module ${REPLAYER_NAME}",
             '  (import "guest" "memory" (memory $guest 0))',
             '  (import "rr" "tape" (memory $tape 1))',
             f'  (import "rr" "slow" (table $slow {len(ROWS)} funcref))']
    for t, sig in enumerate(ROWS):
        parts.append(f"  (type $t{t} (func {wat_signature(sig)}))")
    for t, sig in enumerate(ROWS):
        if answerable(sig):
            parts.append(_function(t, sig))
    parts.append(")")
    return "\n".join(parts)
