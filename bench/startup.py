"""Start-up: ``wasi-rr run`` of a trivial guest against ``python -c "import wasmtime"``.

Both in fresh subprocesses, interleaved, best of ``--repeat`` wall times, with
bytecode and the compiled-module cache warm (one untimed run first). Target
(issue 10): run <= 2x the import of wasmtime. ``--check`` exits 1 when missed.

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


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""Bytecode is cached (the warm-up runs write it), as on a user's machine."""


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - t


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
    return 0 if ratio <= TARGET or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
