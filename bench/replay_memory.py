"""Replay memory stays bounded by a frame, whatever the journal's length.

Records ``bench_clock`` with a small and a large number of calls (default 10,000
and 10,000,000), then replays each in a fresh subprocess and reports its peak
RSS (``ru_maxrss`` of the child). Target (issue 10): the large journal's replay
within 50 MiB of the small one's. ``--check`` exits 1 when missed.

Usage: python bench/replay_memory.py [--small 10000] [--large 10000000] [--check]
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import guestbuild

from wasi_rr.api import RunConfig
from wasi_rr.record import record

TARGET_MIB = 50


def peak_rss_mib(journal: Path) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of ``wasi-rr replay JOURNAL`` in a child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "wasi_rr", "replay", str(journal)],
                          capture_output=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"replay failed: {proc.stderr.decode()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024, wall  # ru_maxrss is in KiB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=10_000_000)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    wasm = guestbuild.build("bench_clock")
    rows = []
    with tempfile.TemporaryDirectory(prefix="wasi-rr-bench-") as d:
        for n in (args.small, args.large):
            journal = Path(d) / f"clock{n}.wrr"
            record(RunConfig(module=wasm, args=[str(n)], stdout=io.BytesIO(),
                             stderr=io.BytesIO()), journal)
            rss, wall = peak_rss_mib(journal)
            rows.append((n, journal.stat().st_size, rss, wall))
            # children's ru_maxrss is a running maximum: measure the large one last
    print(f"{'syscalls':>10s} {'journal':>12s} {'peak RSS':>10s} {'replay wall':>12s}")
    for n, size, rss, wall in rows:
        print(f"{n:10d} {size / 2**20:10.1f} MiB {rss:7.1f} MiB {wall:10.2f} s")
    grow = rows[1][2] - rows[0][2]
    ok = grow <= TARGET_MIB
    print(f"RSS growth {grow:.1f} MiB (target <= {TARGET_MIB} MiB): {'met' if ok else 'MISSED'}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
