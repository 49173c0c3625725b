"""Replay vs record: what re-driving a guest from its journal costs.

Two guests, each recorded once and replayed (verbatim mode), timed end to end
in one process (module compile, instantiation, every syscall, teardown):

* ``bench_files N /data`` (corpus): N 16-byte ``fd_write`` + N 16-byte
  ``fd_read``, on an in-memory tmpfs and on a host directory: the I/O-heavy
  case. Target: replay at least 2x faster than record (replay runs no kernel
  and touches no file, it only compares and copies).
* a sleeper (C source below, built here with zig): 50 ``nanosleep`` of 100 ms =
  5 s of recorded sleeping. Target: replay under 0.5 s (recorded sleeps are
  answered from the journal, never waited out).

Each timing is the best of ``--repeat`` runs, as wall time and as this
process's CPU time (all threads: the journal writer's included). The I/O target
is judged on CPU time, which stays meaningful on a shared, loaded machine; the
sleep target on wall time (sleeping costs no CPU). The replay is also checked
to match (no divergence), so a fast-but-wrong replay cannot pass.

Usage: python bench/replay_cost.py [--n 20000] [--repeat 5] [--check]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import guestbuild

from wasi_rr.api import DirMount, RunConfig
from wasi_rr.record import record
from wasi_rr.replay import replay

SLEEPER_C = r"""
#include <stdio.h>
#include <time.h>
int main(void) {
    struct timespec t = {0, 100 * 1000 * 1000};
    for (int i = 0; i < 50; i++) nanosleep(&t, NULL);
    printf("slept 50 x 100 ms\n");
    return 0;
}
"""


@dataclass
class Row:
    guest: str
    syscalls: int
    record_s: float
    replay_s: float
    record_cpu: float
    replay_cpu: float
    target: str
    ok: bool


def build_sleeper(directory: Path) -> Path:
    return guestbuild.compile_source(SLEEPER_C, directory, "sleeper")


def best(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """(best wall time, best CPU time) over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def measure(name: str, config: RunConfig, journal: Path, repeat: int,
            target: Callable[[tuple[float, float], tuple[float, float]], bool],
            target_text: str) -> Row:
    timed = journal.with_name(journal.stem + "-timed.wrr")

    def do_record(path: Path = timed) -> None:
        config.stdout, config.stderr = io.BytesIO(), io.BytesIO()
        record(config, path)

    consumed = 0

    def do_replay() -> None:
        nonlocal consumed
        result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO())
        if result.divergence is not None:
            raise SystemExit(f"{name}: replay diverged:\n{result.divergence.report()}")
        consumed = result.entries_consumed

    # interleaved, so a change of machine load hits record and replay alike
    rec = rep = (float("inf"), float("inf"))
    for k in range(repeat):
        # the first recording is the journal every replay reads
        r = best(1, lambda k=k: do_record(journal if k == 0 else timed))
        rec = (min(rec[0], r[0]), min(rec[1], r[1]))
        r = best(1, do_replay)
        rep = (min(rep[0], r[0]), min(rep[1], r[1]))
    return Row(name, consumed, rec[0], rep[0], rec[1], rep[1], target_text, target(rec, rep))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="bench_files iterations")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sleep-repeat", type=int, default=1,
                        help="recordings of the 5 s sleeper (each takes 5 s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        files = guestbuild.build("bench_files")
        rows.append(measure(
            f"bench_files {args.n}",
            RunConfig(module=files, args=[str(args.n), "/data"], tmpfs=["/data"],
                      stdin=io.BytesIO()),
            tmpdir / "files.wrr", args.repeat,
            lambda rec, rep: rec[1] >= 2 * rep[1], "replay >= 2x less CPU"))
        host = tmpdir / "host"
        host.mkdir()
        rows.append(measure(
            f"bench_files {args.n} host",
            RunConfig(module=files, args=[str(args.n), "/data"],
                      dirs=[DirMount(host, "/data")], stdin=io.BytesIO()),
            tmpdir / "files-host.wrr", args.repeat,
            lambda rec, rep: rec[1] >= 2 * rep[1], "replay >= 2x less CPU"))
        sleeper = build_sleeper(tmpdir)
        rows.append(measure(
            "sleeper 50 x 100 ms",
            RunConfig(module=sleeper, stdin=io.BytesIO()),
            tmpdir / "sleep.wrr", args.sleep_repeat,
            lambda rec, rep: rep[0] < 0.5, "replay < 0.5 s wall"))

    print(f"{'guest':<27} {'syscalls':>8} {'record s':>9} {'replay s':>9} {'speedup':>8}"
          f" {'rec cpu':>8} {'rep cpu':>8} {'speedup':>8}  {'target':<24} ok")
    for r in rows:
        print(f"{r.guest:<27} {r.syscalls:>8} {r.record_s:>9.3f} {r.replay_s:>9.3f} "
              f"{r.record_s / r.replay_s:>7.1f}x {r.record_cpu:>8.3f} {r.replay_cpu:>8.3f} "
              f"{r.record_cpu / max(r.replay_cpu, 1e-9):>7.1f}x  {r.target:<24} "
              f"{'yes' if r.ok else 'NO'}")
    return 1 if args.check and not all(r.ok for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
