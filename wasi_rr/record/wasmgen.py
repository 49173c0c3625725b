"""WAT source of the wasm recorder, generated from the signature table.

Recording a call in Python costs more than the call: the record is built from
a dozen Python values, one ``struct.pack`` and a few ``extend``s. The wasm
recorder moves that work into wasm, next to the guest. For each import ``k``
of the guest it exports ``f<k>`` with the import's type, which:

1. checks, from the table, that the call has the common shape (one iovec, or
   two for an input iovec array: wasi-libc's stdio writes that way, through a
   second function ``$r<k>_2``; every region inside guest memory, the out
   regions disjoint, flags and enums valid, inputs no longer than the digest
   threshold, a record that fits the tape); any other call goes to ``t<k>`` (step 5);
2. writes the record's header, params and inputs (copied from guest memory
   *before* the call, as Python reads them) at the end of the tape;
3. calls the import's Python RUN callback (``run.f<k>``: the kernel call, the
   very callback ``wasi-rr run`` uses), which returns the errno, and for a call
   whose bytes may reach the console, the fd's stdio mark in bits 16-23;
4. appends the writes the call made (copied from guest memory: the out
   regions are disjoint, so they hold exactly what the callback wrote; empty
   buffers are left out as ``journal.records`` does), fills in the header and
   publishes the record by storing the new end of the tape (``COMMIT``).

5. ``t<k>`` hands the call to the Python RECORD callback (``slow.f<k>``),
   after pulling the tape into the writer so the journal keeps its order.

A failed call is journaled with every input it read: after step 1 only the
kernel or a path's UTF-8 check can fail, and an ``ILSEQ`` from a call with a
path is rebuilt by Python (``rr.fail``), which knows how far decoding went.
The records are byte for byte those of the Python recorder (the tests record
every corpus guest both ways and compare). Generated per import set (and
remembered per process) and cached like any module. Unlike the replayer it is
not yet generic over the whole table, so the first recording of a new import
set compiles it (tens of milliseconds); reaching the callbacks through tables
as the replayer does would remove that.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from wasi_rr.host.boundary.codegen import valid_values
from wasi_rr.host.boundary.fastgen import is_simple
from wasi_rr.host.boundary.stub import wat_signature
from wasi_rr.host.kernel.wasi_types import Errno
from wasi_rr.host.table import Fill, Param, Role, Signature, WasmType
from wasi_rr.journal.records import HEADER_SIZE

RECORDER_NAME: Final = "wasi-rr-recorder"

# -- the control block at the start of the tape memory (shared with wasmtape.py) -------
COMMIT: Final = 0
"""End of the published records (u32, stored last, atomically)."""
THRESHOLD: Final = 4
"""Longest input journaled as bytes (u32; longer ones take the Python path)."""
LIMIT: Final = 8
"""Tape address past which a record first drains the tape (u32): the writer's frame
size, so a drain hands the writer about one frame and a full disk or a crash loses
no more than the Python path would."""
TAPE_BASE: Final = 65536
TAPE_PAGES: Final = 16
TAPE_END: Final = TAPE_BASE + TAPE_PAGES * 65536
MEMORY_PAGES: Final = TAPE_END // 65536


@dataclass(frozen=True, slots=True)
class _Item:
    """One input or write of the record: where it is in guest memory, how long."""

    addr: str
    """WAT expression of its guest address."""
    length: str
    """WAT expression of its length (i32)."""
    max_length: str
    """WAT expression bounding the length before the call (i32)."""
    optional: bool = False
    """Left out of the record when empty."""


def _var(i: int) -> str:
    return f"(local.get {i})"


def recordable(sig: Signature) -> bool:
    """Whether the wasm recorder journals ``sig`` itself (else Python does)."""
    if sig.result is None or not is_simple(sig):
        return False
    for p in sig.params:
        if p.role is Role.OUT_BUF and p.fill is Fill.FIT:
            return False  # how much was written is not in guest memory
        if p.role in (Role.OUT_BUF, Role.OUT_DIRENTS, Role.OUT_IOVS) and \
                not (p.role is Role.OUT_BUF and p.fill is Fill.EXACT) and _counter(sig, p) is None:
            return False
    return True


def _counter(sig: Signature, p: Param) -> int | None:
    """The u32 out param holding how many bytes the call put into ``p``."""
    for i, q in enumerate(sig.params):
        if q.role is Role.OUT and q.count_of == p.name and q.out is not None and q.out.size == 4:
            return i
    return None


def _items(sig: Signature, iovs: int = 1
           ) -> tuple[list[_Item], list[_Item], list[tuple[str, str]], list[str]]:
    """The record's inputs and writes, the regions to bounds-check, the checks;
    ``iovs``: how many entries an input iovec array has (1, or 2 for ``_two``)."""
    ins: list[_Item] = []
    outs: list[_Item] = []
    regions: list[tuple[str, str]] = []
    checks: list[str] = []
    for i, p in enumerate(sig.params):
        v = _var(i)
        if p.role is Role.FLAGS:
            assert p.type is not None
            mask = 0
            for m in p.type:  # type: ignore[attr-defined]
                mask |= int(m.value)
            if p.wasm is WasmType.I64:
                checks.append(
                    f"(i64.ne (i64.and {v} (i64.const {~mask & 0xFFFF_FFFF_FFFF_FFFF:#x})) "
                    "(i64.const 0))"
                )
            else:
                checks.append(
                    f"(i32.ne (i32.and {v} (i32.const {~mask & 0xFFFF_FFFF:#x})) (i32.const 0))"
                )
        elif p.role is Role.ENUM:
            values = sorted(valid_values(sig)[f"VALID_{i}"])
            t = "i64" if p.wasm is WasmType.I64 else "i32"
            test = "(i32.const 0)"
            for value in values:
                test = f"(i32.or {test} ({t}.eq {v} ({t}.const {value})))"
            checks.append(f"(i32.eqz {test})")
        elif p.role is Role.IN_STR:
            n = _var(sig.index(p.length or ""))
            regions.append((v, n))
            ins.append(_Item(v, n, n))
        elif p.role in (Role.IN_IOVS, Role.OUT_IOVS):
            count = _var(sig.index(p.length or ""))
            k = iovs if p.role is Role.IN_IOVS else 1
            checks.append(f"(i32.ne {count} (i32.const {k}))")
            regions.append((v, f"(i32.const {8 * k})"))
            ins.append(_Item(v, f"(i32.const {8 * k})", f"(i32.const {8 * k})"))
            base, length = f"(local.get $b{i})", f"(local.get $l{i})"
            regions.append((base, length))
            if p.role is Role.IN_IOVS:
                ins.append(_Item(base, length, length))
                for j in range(1, k):  # the further buffers, in order (empty ones too)
                    bj, lj = f"(local.get $b{i}_{j})", f"(local.get $l{i}_{j})"
                    regions.append((bj, lj))
                    ins.append(_Item(bj, lj, lj))
            else:
                c = _counter(sig, p)
                assert c is not None
                outs.append(_Item(base, f"(local.get $c{i})", length, optional=True))
        elif p.role in (Role.OUT_BUF, Role.OUT_DIRENTS):
            n = _var(sig.index(p.length or ""))
            regions.append((v, n))
            if p.role is Role.OUT_BUF and p.fill is Fill.EXACT:
                outs.append(_Item(v, n, n, optional=True))
            else:
                outs.append(_Item(v, f"(local.get $c{i})", n, optional=True))
        elif p.role is Role.OUT:
            assert p.out is not None
            size = f"(i32.const {p.out.size})"
            regions.append((v, size))
            outs.append(_Item(v, size, size))
    return ins, outs, regions, checks


def _iovec_loads(sig: Signature, iovs: int = 1) -> list[str]:
    lines = []
    for i, p in enumerate(sig.params):
        if p.role in (Role.IN_IOVS, Role.OUT_IOVS):
            lines.append(f"      (local.set $b{i} (i32.load $guest {_var(i)}))")
            lines.append(f"      (local.set $l{i} (i32.load $guest offset=4 {_var(i)}))")
            for j in range(1, iovs if p.role is Role.IN_IOVS else 1):
                lines.append(f"      (local.set $b{i}_{j} (i32.load $guest offset={8 * j} "
                             f"{_var(i)}))")
                lines.append(f"      (local.set $l{i}_{j} (i32.load $guest offset={8 * j + 4} "
                             f"{_var(i)}))")
    return lines


def _two(sig: Signature) -> int | None:
    """The index of the count param when ``sig`` gets a second recorder function
    for two input iovecs: wasi-libc's stdio writes with two (its buffer, then
    the caller's data, often empty), so most C programs' writes are that shape."""
    for p in sig.params:
        if p.role is Role.IN_IOVS:
            return sig.index(p.length or "")
    return None


def _function(k: int, sig: Signature, fid: int, iovs: int = 1) -> str:
    n = len(sig.params)
    ins, outs, regions, checks = _items(sig, iovs)
    head = HEADER_SIZE + 8 * n
    b0 = head + 8 * (len(ins) + len(outs))
    args = " ".join(_var(i) for i in range(n))
    locals_ = [
        "(local $rec i32) (local $pos i32) (local $e i32) (local $nout i32)",
        "(local $wd i32) (local $gs i64) (local $max i64)",
    ]
    for i, p in enumerate(sig.params):
        if p.role in (Role.IN_IOVS, Role.OUT_IOVS):
            locals_.append(f"(local $b{i} i32) (local $l{i} i32)")
            for j in range(1, iovs if p.role is Role.IN_IOVS else 1):
                locals_.append(f"(local $b{i}_{j} i32) (local $l{i}_{j} i32)")
        if p.role in (Role.OUT_IOVS, Role.OUT_BUF, Role.OUT_DIRENTS):
            locals_.append(f"(local $c{i} i32)")
    two = _two(sig) if iovs == 1 else None
    name = f'$r{k} (export "f{k}")' if iovs == 1 else f"$r{k}_{iovs}"
    L = [
        f"  (func {name} {wat_signature(sig)}",
        "    " + " ".join(locals_),
    ]
    if two is not None:
        L.append(f"    (if (i32.eq {_var(two)} (i32.const 2)) "
                 f"(then (return (call $r{k}_2 {args}))))")
    L += [
        "    (block $slow",
        "      (local.set $gs (i64.shl (i64.extend_i32_u (memory.size $guest)) (i64.const 16)))",
    ]
    for c in checks:
        L.append(f"      (br_if $slow {c})")
    # the iovec arrays first (their entries locate the buffers), then every region
    for addr, length in regions:
        if addr.startswith("(local.get $b"):
            continue
        L.append(f"      (br_if $slow (call $oob {addr} {length} (local.get $gs)))")
    L += _iovec_loads(sig, iovs)
    for addr, length in regions:
        if addr.startswith("(local.get $b"):
            L.append(f"      (br_if $slow (call $oob {addr} {length} (local.get $gs)))")
    for x in ins:  # the digest threshold applies to every input (emit's rule)
        L.append(
            f"      (br_if $slow (i32.gt_u {x.length} (i32.load $tape (i32.const {THRESHOLD}))))"
        )
    out_regions = [(x.addr, x.max_length) for x in outs]
    for a in range(len(out_regions)):
        for b in range(a + 1, len(out_regions)):
            (a1, l1), (a2, l2) = out_regions[a], out_regions[b]
            L.append(f"      (br_if $slow (call $overlap {a1} {l1} {a2} {l2}))")
    size = f"(i64.const {b0})"
    for x in ins + outs:
        size = f"(i64.add {size} (i64.extend_i32_u {x.max_length}))"
    L.append(f"      (local.set $max {size})")
    L.append(f"      (br_if $slow (i64.gt_u (local.get $max) (i64.const {TAPE_END - TAPE_BASE})))")
    L.append(f"      (local.set $rec (i32.load $tape (i32.const {COMMIT})))")
    L.append(
        "      (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $rec)) (local.get $max)) "
        f"(i64.extend_i32_u (i32.load $tape (i32.const {LIMIT}))))"
    )
    L.append(
        f"        (then (call $drain (i32.const {k})) "
        f"(local.set $rec (i32.load $tape (i32.const {COMMIT})))))"
    )
    # header, params, inputs
    L.append(f"      (i32.store16 $tape offset=4 (local.get $rec) (i32.const {fid}))")
    L.append(f"      (i32.store8 $tape offset=7 (local.get $rec) (i32.const {n}))")
    L.append(f"      (i32.store16 $tape offset=8 (local.get $rec) (i32.const {len(ins)}))")
    for i, p in enumerate(sig.params):
        value = _var(i) if p.wasm is WasmType.I64 else f"(i64.extend_i32_u {_var(i)})"
        L.append(f"      (i64.store $tape offset={HEADER_SIZE + 8 * i} (local.get $rec) {value})")
    L.append(f"      (local.set $pos (i32.add (local.get $rec) (i32.const {b0})))")
    for j, x in enumerate(ins):
        L.append(
            f"      (call $put (i32.add (local.get $rec) (i32.const {head + 8 * j})) "
            f"{x.addr} {x.length} (local.get $pos))"
        )
        L.append(f"      (local.set $pos (i32.add (local.get $pos) {x.length}))")
    L.append(f"      (local.set $e (call $run{k} {args}))")
    L += _failed(k, sig, b0, len(outs))
    L += _writes(sig, outs, head + 8 * len(ins), b0)
    L.append("      (return (i32.const 0)))")
    L.append(f"    (call $t{k} {args}))")
    if two is not None:
        L.append(_function(k, sig, fid, iovs=2))
    return "\n".join(L)


def _failed(k: int, sig: Signature, b0: int, max_out: int) -> list[str]:
    """A failed call: its record has the inputs and no writes."""
    L = ["      (if (i32.and (local.get $e) (i32.const 0xFFFF))", "        (then"]
    if any(p.role is Role.IN_STR for p in sig.params):
        L.append(f"          (if (i32.eq (local.get $e) (i32.const {int(Errno.ILSEQ)}))")
        L.append(
            f"            (then (call $fail (i32.const {k}) (local.get $rec) (local.get $e))"
            " (return (local.get $e))))"
        )
    if max_out:
        L.append(
            f"          (local.set $pos (call $shift (local.get $rec) (i32.const {b0}) "
            f"(local.get $pos) (i32.const {8 * max_out})))"
        )
    L.append(
        "          (call $seal (local.get $rec) (local.get $pos) (i32.const 0) "
        "(i32.const 0) (local.get $e))"
    )
    L.append("          (return (local.get $e))))")
    return L


def _writes(sig: Signature, outs: list[_Item], wd: int, b0: int) -> list[str]:
    """A successful call: count the writes, close the gap, append them, seal."""
    L = []
    for i, p in enumerate(sig.params):
        c = _counter(sig, p) if p.role in (Role.OUT_IOVS, Role.OUT_BUF, Role.OUT_DIRENTS) else None
        if c is not None:
            cap = (
                f"(local.get $l{i})" if p.role is Role.OUT_IOVS else _var(sig.index(p.length or ""))
            )
            L.append(f"      (local.set $c{i} (call $min (i32.load $guest {_var(c)}) {cap}))")
    L.append("      (local.set $nout (i32.const 0))")
    for x in outs:
        if x.optional:
            L.append(
                f"      (if (i32.ne {x.length} (i32.const 0)) "
                "(then (local.set $nout (i32.add (local.get $nout) (i32.const 1)))))"
            )
        else:
            L.append("      (local.set $nout (i32.add (local.get $nout) (i32.const 1)))")
    if outs:
        L.append(
            f"      (local.set $pos (call $shift (local.get $rec) (i32.const {b0}) "
            f"(local.get $pos) (i32.shl (i32.sub (i32.const {len(outs)}) (local.get $nout)) "
            "(i32.const 3))))"
        )
    L.append(f"      (local.set $wd (i32.add (local.get $rec) (i32.const {wd})))")
    for x in outs:
        put = [
            f"(call $put (local.get $wd) {x.addr} {x.length} (local.get $pos))",
            f"(local.set $pos (i32.add (local.get $pos) {x.length}))",
            "(local.set $wd (i32.add (local.get $wd) (i32.const 8)))",
        ]
        if x.optional:
            L.append(f"      (if (i32.ne {x.length} (i32.const 0)) (then {' '.join(put)}))")
        else:
            L += [f"      {line}" for line in put]
    flags = "(i32.shr_u (local.get $e) (i32.const 16))" if sig.stdio else "(i32.const 0)"
    L.append(
        f"      (call $seal (local.get $rec) (local.get $pos) {flags} (local.get $nout) "
        "(i32.const 0))"
    )
    return L


_HELPERS: Final = f"""
  ;; is [addr, addr+len) outside guest memory (of $gs bytes)?
  (func $oob (param $addr i32) (param $len i32) (param $gs i64) (result i32)
    (i64.gt_u (i64.add (i64.extend_i32_u (local.get $addr)) (i64.extend_i32_u (local.get $len)))
              (local.get $gs)))

  ;; do two non-empty guest ranges overlap?
  (func $overlap (param $a i32) (param $m i32) (param $b i32) (param $n i32) (result i32)
    (if (i32.or (i32.eqz (local.get $m)) (i32.eqz (local.get $n))) (then (return (i32.const 0))))
    (i32.and
      (i64.lt_u (i64.extend_i32_u (local.get $a))
                (i64.add (i64.extend_i32_u (local.get $b)) (i64.extend_i32_u (local.get $n))))
      (i64.lt_u (i64.extend_i32_u (local.get $b))
                (i64.add (i64.extend_i32_u (local.get $a)) (i64.extend_i32_u (local.get $m))))))

  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_u (local.get $a) (local.get $b))))

  ;; descriptor (addr, len) at $d, the guest bytes at $pos
  (func $put (param $d i32) (param $addr i32) (param $len i32) (param $pos i32)
    (i32.store $tape (local.get $d) (local.get $addr))
    (i32.store $tape offset=4 (local.get $d) (local.get $len))
    (memory.copy $tape $guest (local.get $pos) (local.get $addr) (local.get $len)))

  ;; the input bytes were laid out after room for every write's descriptor:
  ;; move them down by $by (the descriptors left out); returns the new end
  (func $shift (param $rec i32) (param $b0 i32) (param $pos i32) (param $by i32) (result i32)
    (if (i32.eqz (local.get $by)) (then (return (local.get $pos))))
    (memory.copy $tape $tape
      (i32.sub (i32.add (local.get $rec) (local.get $b0)) (local.get $by))
      (i32.add (local.get $rec) (local.get $b0))
      (i32.sub (local.get $pos) (i32.add (local.get $rec) (local.get $b0))))
    (i32.sub (local.get $pos) (local.get $by)))

  ;; fill in the header and publish the record
  (func $seal (param $rec i32) (param $end i32) (param $flags i32) (param $nout i32)
              (param $errno i32)
    (i32.store $tape (local.get $rec) (i32.sub (local.get $end) (local.get $rec)))
    (i32.store8 $tape offset=6 (local.get $rec) (local.get $flags))
    (i32.store16 $tape offset=10 (local.get $rec) (local.get $nout))
    (i32.store $tape offset=12 (local.get $rec) (local.get $errno))
    (i32.atomic.store $tape (i32.const {COMMIT}) (local.get $end)))
"""


def _trampoline(k: int, sig: Signature, export: bool) -> str:
    args = " ".join(_var(i) for i in range(len(sig.params)))
    name = f'(export "f{k}") ' if export else ""
    return (
        f"  (func $t{k} {name}{wat_signature(sig)}\n"
        f"    (if (i32.gt_u (i32.load $tape (i32.const {COMMIT})) (i32.const {TAPE_BASE}))\n"
        f"      (then (call $drain (i32.const {k}))))\n"
        f"    (call $slow{k} {args}))"
    )


def recorder_wat(sigs: Sequence[Signature], fids: Sequence[int]) -> str:
    """The recorder for a guest importing ``sigs`` (``f<k>`` serves ``sigs[k]``,
    journaled as function ``fids[k]``). Remembered per process for a few import
    sets: a process recording one program many times (a benchmark, a test farm)
    generates it once."""
    return _recorder_wat(tuple(sigs), tuple(fids))


@functools.lru_cache(maxsize=16)
def _recorder_wat(sigs: tuple[Signature, ...], fids: tuple[int, ...]) -> str:
    parts = [
        f"(module ${RECORDER_NAME}",
        '  (import "guest" "memory" (memory $guest 0))',
        f'  (import "rr" "tape" (memory $tape {MEMORY_PAGES} {MEMORY_PAGES}))',
        '  (import "rr" "drain" (func $drain (param i32)))',
        '  (import "rr" "fail" (func $fail (param i32) (param i32) (param i32)))',
    ]
    for k, sig in enumerate(sigs):
        parts.append(f'  (import "slow" "f{k}" (func $slow{k} {wat_signature(sig)}))')
        if recordable(sig):
            parts.append(f'  (import "run" "f{k}" (func $run{k} {wat_signature(sig)}))')
    parts.append(_HELPERS)
    for k, sig in enumerate(sigs):
        if recordable(sig):
            parts.append(_trampoline(k, sig, export=False))
            parts.append(_function(k, sig, fids[k]))
        else:
            parts.append(_trampoline(k, sig, export=True))
    parts.append(")")
    return "\n".join(parts)
