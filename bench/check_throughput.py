"""``wasi-rr check`` throughput: the local pool and Dask, one worker and two.

A corpus of small traces is recorded here from corpus guests (``exit_code``,
``args_env``, ``stdin_cat``, ``random``, ``clocks``: 5-1,025 syscalls, 12-15 KB
each, mostly the embedded module) and checked, side by side in one run, by:

* ``LocalPool`` with 1 and with 2 worker processes,
* a Dask ``LocalCluster`` (single-threaded worker processes on 127.0.0.1) with 1
  and with 2 workers, through the same ``check`` call.

Every executor is started and warmed (one untimed pass) before its timed pass,
so the numbers are a warm run's: start-up is printed apart. One executor exists
at a time; the configurations take turns, round after round (drift on the shared
machine hits all alike), and each keeps its best of ``--repeat`` rounds. Every run
must pass every trace, so a fast-but-wrong run cannot count.

Printed:

* traces/s per configuration and the ratios of the targets: 1 -> 2 workers
  (>= 1.7x, local and Dask alike) and Dask / local at 2 workers (>= 0.85);
* per-trace overhead in a warm worker (target <= 15 ms): the 1-worker run's wall
  time per trace minus the mean time spent inside ``replay()`` itself; split into
  the worker's own cost (temporary file when shipping bytes, classification)
  and the rest (IPC, scheduling, the client);
* the cost model of docs/scale.md: fixed cost per trace and cost per syscall
  (in-process ``replay()`` of ``bench_clock N`` and ``bench_files N`` at three
  N: a least-squares line each), and bytes shipped per trace (a pickled task's
  size per trace, with the journal's bytes and with its path only).

Usage: python bench/check_throughput.py [--traces 400] [--repeat 3] [--check]
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import guestbuild

from wasi_rr.api import RunConfig
from wasi_rr.record import record
from wasi_rr.replay import replay
from wasi_rr.replay.check import TraceJob, check, find_journals
from wasi_rr.replay.check.discover import Found
from wasi_rr.replay.check.executors import dask_workers, local_workers
from wasi_rr.replay.check.worker import ReplayOptions

GUESTS: dict[str, Callable[[int], dict[str, Any]]] = {
    "exit_code": lambda i: {"args": [str(i % 256)]},
    "args_env": lambda i: {"args": [f"a{i}", "b" * (i % 40)], "env": {"K": str(i)}},
    "stdin_cat": lambda i: {"args": [], "stdin": b"line %d\n" % i * (i % 20 + 1)},
    "random": lambda i: {"args": []},
    "clocks": lambda i: {"args": []},
}


def record_one(
    wasm: Path,
    journal: Path,
    args: list[str],
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> None:
    config = RunConfig(
        module=wasm,
        args=args,
        env=env or {},
        stdin=io.BytesIO(stdin),
        stdout=io.BytesIO(),
        stderr=io.BytesIO(),
        argv0=wasm.name,
        tmpfs=["/data"],
    )
    record(config, journal)


def make_corpus(root: Path, count: int) -> list[Found]:
    root.mkdir(parents=True, exist_ok=True)
    builds = {name: guestbuild.build(name) for name in GUESTS}
    for i in range(count):
        name = list(GUESTS)[i % len(GUESTS)]
        record_one(builds[name], root / f"{name}-{i:05d}.wrr", **GUESTS[name](i))
    return find_journals([root])


@dataclass
class Run:
    traces_per_s: float
    wall_s: float
    replay_s: float
    """Mean time inside ``replay()`` per trace."""
    worker_s: float
    """Mean wall time per trace in its worker (``TraceResult.seconds``)."""
    client_cpu_s: float
    """This process's CPU time per trace: the runner and the pool's dispatcher, or
    the Dask client and the LocalCluster's scheduler (which runs in-process)."""


def timed_check(found: list[Found], executor: Any, ship: str) -> Run:
    cpu = time.process_time()
    report = check(found, executor=executor, ship=ship)
    cpu = time.process_time() - cpu
    if not report.ok:
        raise SystemExit(f"check failed: {[(t.path, t.message) for t in report.failures()]}")
    return Run(
        report.traces_per_s,
        report.wall_s,
        statistics.fmean(t.replay_seconds for t in report.traces),
        statistics.fmean(t.seconds for t in report.traces),
        cpu / report.total,
    )


CONFIGS = ("local x1", "local x2", "dask x1", "dask x2")


@contextmanager
def started(name: str) -> Iterator[tuple[Any, float]]:
    """The executor ``name`` as ``wasi-rr check`` starts it (warm), and its start-up
    seconds; closed on exit."""
    kind, n = name.split(" x")[0], int(name.split(" x")[1])
    with local_workers(n) if kind == "local" else dask_workers(None, n) as workers:
        yield workers.executor, workers.startup_s


def replay_seconds(journal: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO(), warn=lambda _m: None)
        best = min(best, time.perf_counter() - t0)
    return best


def syscall_cost(directory: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """guest -> (fixed s, s per syscall): a least-squares line through in-process
    replays at three N. ``bench_clock N`` (N ``clock_time_get``, each answer
    different) and ``bench_files N`` (2N 16-byte write/read), both answered by
    the wasm replayer."""
    lines: dict[str, tuple[float, float]] = {}
    for guest, calls_per_n, extra in (("bench_clock", 1, []), ("bench_files", 2, ["/data"])):
        wasm = guestbuild.build(guest)
        points = []
        for n in (0, 20000, 80000):
            journal = directory / f"{guest}-{n}.wrr"
            record_one(wasm, journal, [str(n), *extra])
            replay_seconds(journal, 1)  # warm: module cache, imports
            points.append((calls_per_n * n, replay_seconds(journal, repeat)))
        slope, intercept = statistics.linear_regression(
            [p[0] for p in points], [p[1] for p in points]
        )
        lines[guest] = (intercept, slope)
    return lines


def shipped_bytes(found: list[Found]) -> tuple[float, float]:
    """Pickled task bytes per trace: (journal bytes inside, path only)."""
    sample = found[:50]
    with_data = [TraceJob(str(f.path), f.size, str(f.path), f.path.read_bytes()) for f in sample]
    paths = [TraceJob(str(f.path), f.size, str(f.path)) for f in sample]
    options = ReplayOptions()
    return (
        len(pickle.dumps((with_data, options))) / len(sample),
        len(pickle.dumps((paths, options))) / len(sample),
    )


def run_rounds(found: list[Found], repeat: int) -> tuple[dict[str, Run], dict[str, float]]:
    """Best run and start-up per configuration. One executor exists at a time (an
    idle Dask cluster's event loops would tax the others' runs); the configurations
    take turns, round after round, so drift on the machine hits all alike."""
    best: dict[str, Run] = {}
    startup: dict[str, float] = {}
    for _ in range(repeat):
        for name in CONFIGS:
            with started(name) as (executor, seconds):
                timed_check(found, executor, "auto")  # warm: every worker has the module
                run = timed_check(found, executor, "auto")
            startup[name] = min(seconds, startup.get(name, seconds))
            if name not in best or run.traces_per_s > best[name].traces_per_s:
                best[name] = run
    return best, startup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = make_corpus(Path(tmp) / "corpus", args.traces)
        sizes = [f.size for f in found]
        print(
            f"corpus: {len(found)} traces, {statistics.fmean(sizes) / 1024:.1f} KiB mean "
            f"({min(sizes)}-{max(sizes)} bytes)"
        )
        lines = syscall_cost(Path(tmp), args.repeat)
        load = os.getloadavg()[0]
        best, startup = run_rounds(found, args.repeat)
        print(
            f"load average (1 min) before / after the runs: {load:.2f} / "
            f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other processes "
            "competing for the cores skew every ratio: rerun on an idle machine)"
        )
        return report(best, startup, lines, shipped_bytes(found), args.check)


def report(
    best: dict[str, Run],
    startup: dict[str, float],
    lines: dict[str, tuple[float, float]],
    shipped: tuple[float, float],
    check_targets: bool,
) -> int:
    print(
        f"\n{'executor':<10} {'start-up s':>10} {'wall s':>8} {'traces/s':>9} "
        f"{'replay ms':>10} {'in-worker ms':>13} {'overhead ms':>12} {'client cpu ms':>14}"
    )
    for name, run in best.items():
        workers = int(name[-1])
        overhead = workers / run.traces_per_s - run.replay_s  # per trace, per worker
        print(
            f"{name:<10} {startup[name]:>10.2f} {run.wall_s:>8.3f} {run.traces_per_s:>9.1f} "
            f"{run.replay_s * 1e3:>10.2f} {run.worker_s * 1e3:>13.2f} {overhead * 1e3:>12.2f} "
            f"{run.client_cpu_s * 1e3:>14.3f}"
        )
    local_scale = best["local x2"].traces_per_s / best["local x1"].traces_per_s
    dask_scale = best["dask x2"].traces_per_s / best["dask x1"].traces_per_s
    dask_vs_local = best["dask x2"].traces_per_s / best["local x2"].traces_per_s
    local1 = best["local x1"]
    overhead_ms = (1 / local1.traces_per_s - local1.replay_s) * 1e3
    dask1 = best["dask x1"]
    dask_overhead_ms = (1 / dask1.traces_per_s - dask1.replay_s) * 1e3
    rows = [
        ("local pool 1 -> 2 workers", f"{local_scale:.2f}x", ">= 1.7x", local_scale >= 1.7),
        ("Dask 1 -> 2 workers", f"{dask_scale:.2f}x", ">= 1.7x", dask_scale >= 1.7),
        ("Dask / local pool, 2 workers", f"{dask_vs_local:.2f}", ">= 0.85", dask_vs_local >= 0.85),
        (
            "per-trace overhead, warm local worker",
            f"{overhead_ms:.2f} ms",
            "<= 15 ms",
            overhead_ms <= 15,
        ),
        (
            "per-trace overhead, warm Dask worker",
            f"{dask_overhead_ms:.2f} ms",
            "<= 15 ms",
            dask_overhead_ms <= 15,
        ),
    ]
    print(f"\n{'measure':<40} {'measured':>10}  {'target':<9} ok")
    for label, value, target, ok in rows:
        print(f"{label:<40} {value:>10}  {target:<9} {'yes' if ok else 'NO'}")
    print("\ncost model (in-process replay() at N = 0, 20k, 80k; least squares):")
    for guest, (fixed, per_call) in lines.items():
        print(
            f"  {guest:<12} fixed {fixed * 1e3:6.2f} ms per trace, "
            f"{per_call * 1e6:6.3f} us per syscall"
        )
    print(
        f"  small traces: {statistics.fmean(r.replay_s for r in best.values()) * 1e3:.2f} ms "
        "in replay() per trace (mean over the runs above)"
    )
    print(f"  shipped per trace: {shipped[0]:.0f} bytes as bytes, {shipped[1]:.0f} as a path")
    return 1 if check_targets and not all(r[3] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
