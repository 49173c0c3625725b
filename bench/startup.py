"""Start-up: ``wasi-rr run`` of a trivial guest against ``python -c "import wasmtime"``.

Both in fresh subprocesses, interleaved, best of ``--repeat`` wall times, with
bytecode and the compiled-module cache warm (one untimed run first). Target
(issue 10): run <= 2x the import of wasmtime.

Then the first ``replay`` right after a ``record``, against a warm replay of the
same journal (target <= 1.5x). Each round records a guest never seen before (a
constant in it changes) into a private cache directory, so nothing of that guest
is cached for replay except what ``record`` put there. The replayer and the stub
are generated for the whole signature table, not per guest: the cache holds them
from the first replay on this machine on, whatever guest it was. That one-time
cost is printed too (a replay into an empty cache).

``--check`` exits 1 when a target is missed.

Usage: python bench/startup.py [--repeat 15] [--check]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import wasmtime

TRIVIAL = """(module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))
  (memory (export "memory") 1) (func (export "_start") (call $e (i32.const 0))))"""
TARGET = 2.0
FIRST_TARGET = 1.5

GUEST = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $c (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "round {round}\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 12))
    (drop (call $c (i32.const 1) (i64.const 0) (i32.const 64)))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 32)))))"""
"""A guest whose bytes change with ``round`` (so no cache knows it yet)."""


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""Bytecode is cached (the warm-up runs write it), as on a user's machine."""


def wall(cmd: list[str], env: dict[str, str] = ENV) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def first_replay(repeat: int) -> tuple[float, float, float]:
    """(one-time replay into an empty cache, best first replay after a record,
    best warm replay), wall seconds."""
    rr = [sys.executable, "-m", "wasi_rr"]
    with tempfile.TemporaryDirectory() as d:
        env = {**ENV, "WASI_RR_CACHE_DIR": str(Path(d) / "cache")}
        firsts, warms, once = [], [], 0.0
        for i in range(repeat + 1):
            wasm, journal = Path(d) / f"g{i}.wasm", Path(d) / f"g{i}.wrr"
            wasm.write_bytes(wasmtime.wat2wasm(GUEST.replace("{round}", f"{i:06d}")))
            wall(rr + ["record", "-o", str(journal), str(wasm)], env)
            first = wall(rr + ["replay", str(journal)], env)
            if i == 0:
                once = first  # the empty cache: compiles the replayer and the stub
                continue
            firsts.append(first)
            warms.append(wall(rr + ["replay", str(journal)], env))
    return once, min(firsts), min(warms)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        wasm = Path(d) / "trivial.wasm"
        wasm.write_bytes(wasmtime.wat2wasm(TRIVIAL))
        cmds = {"import wasmtime": [sys.executable, "-c", "import wasmtime"],
                "wasi-rr run": [sys.executable, "-m", "wasi_rr", "run", str(wasm)],
                "wasi-rr record": [sys.executable, "-m", "wasi_rr", "record", "-o",
                                   str(Path(d) / "t.wrr"), str(wasm)],
                "wasi-rr replay": [sys.executable, "-m", "wasi_rr", "replay",
                                   str(Path(d) / "t.wrr")]}
        best = {}
        for cmd in cmds.values():
            wall(cmd)
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                best[name] = min(best.get(name, 9e9), wall(cmd))
    base = best["import wasmtime"]
    for name, t in best.items():
        print(f"{name:16s} {t * 1000:7.1f} ms  {t / base:5.2f}x")
    ratio = best["wasi-rr run"] / base
    print(f"run / import wasmtime = {ratio:.2f}x (target <= {TARGET}x): "
          f"{'met' if ratio <= TARGET else 'MISSED'}")
    once, first, warm = first_replay(max(3, args.repeat // 3))
    first_ratio = first / warm
    print(f"replay into an empty cache (once per install) {once * 1000:7.1f} ms")
    print(f"first replay after record  {first * 1000:7.1f} ms, warm {warm * 1000:7.1f} ms: "
          f"{first_ratio:.2f}x (target <= {FIRST_TARGET}x): "
          f"{'met' if first_ratio <= FIRST_TARGET else 'MISSED'}")
    missed = ratio > TARGET or first_ratio > FIRST_TARGET
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
