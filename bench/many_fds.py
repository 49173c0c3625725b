"""Many open descriptors: ``corpus/many_fds.c`` under every mode, timed.

The guest creates N files on a tmpfs and keeps them all open, closes every
other one, reopens those and closes all: 1.5 N ``path_open`` and 1.5 N
``fd_close`` with up to N fds open at once (and one ``fd_fdstat_get`` per
open, from wasi-libc). Before the kernel's lowest-free-fd allocator became
O(log n), each open scanned the fd table. Timed in one process, best of
``--repeat``: wasmtime's built-in WASI (on a host temporary directory, its only
kind), ``run``, ``record``, ``replay`` (wasm replayer), ``replay --slow``
(every call in Python) and ``replay --verify``.

Usage: python bench/many_fds.py [--n 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import guestbuild
from guestrun import Invocation, run_reference

from wasi_rr.api import RunConfig, run
from wasi_rr.journal import open_journal
from wasi_rr.record import record
from wasi_rr.replay import replay


def best(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` timed calls (wall seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    wasm = guestbuild.build("many_fds")
    argv = [str(args.n), "/tmp"]

    def config() -> RunConfig:
        return RunConfig(module=wasm, args=argv, tmpfs=["/tmp"], stdout=io.BytesIO(),
                         stderr=io.BytesIO())

    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "fds.wrr"

        def checked_replay(**kwargs: object) -> None:
            result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO(),
                            **kwargs)  # type: ignore[arg-type]
            assert result.ok and result.exit_code == 0, result

        rows = [
            ("wasmtime WASI (host tmp dir)",
             lambda: run_reference(Invocation(wasm, args=argv, tmpfs=["/tmp"]))),
            ("wasi-rr run", lambda: run(config())),
            ("wasi-rr record", lambda: record(config(), journal)),
            ("wasi-rr replay", lambda: checked_replay()),
            ("wasi-rr replay --slow", lambda: checked_replay(fast=False)),
            ("wasi-rr replay --verify", lambda: checked_replay(verify=True)),
        ]
        times = [(name, best(fn, args.repeat)) for name, fn in rows]
        with open_journal(journal) as reader:
            calls = sum(1 for _ in reader.calls())
    print(f"many_fds {args.n}: {calls} syscalls, up to {args.n} fds open at once")
    for name, seconds in times:
        print(f"{name:<30} {seconds:7.2f} s  {seconds / calls * 1e6:6.1f} us/call")


if __name__ == "__main__":
    main()
