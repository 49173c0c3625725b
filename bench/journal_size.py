"""Journal size and encoding cost: bytes per syscall, compression ratio, µs per entry.

Synthetic entry streams shaped like what the host adapter records:

* ``clock``: ``clock_time_get(MONOTONIC, 1000, out_ptr)`` writing an 8-byte
  timestamp that advances 2-3 µs per call (a guest timing a loop);
* ``clock-jitter``: the same with 1-100 µs steps (a guest doing work between calls);
* ``write-file``: ``fd_write(fd 3, iovs, 1, nwritten_ptr)`` of 64-byte text records;
* ``write-stdout``: ``fd_write`` to fd 1 of varied log lines (always kept in full);
* ``read-file``: ``fd_read`` of 4 KiB blocks of a text-like file (data in ``writes``);
* ``random``: ``random_get`` of 16 bytes (incompressible; an upper bound);
* ``mixed``: path_open / fd_read / fd_write / clock / fd_close rotation.

Each stream is written the way a recording writes it (format 2.0): binary
records appended with ``journal.records.append_call`` into ``JournalWriter.buf``
(inputs over the 4 KiB threshold as digests, stdout/stderr writes flagged and
kept), a frame cut with ``flush_full`` whenever the buffer reaches the limit.

With ``--guests`` it also records real corpus guests (bench_clock, bench_files;
zig needed) through ``wasi_rr.record`` and reports the same figures from the
written journal. Targets: the clock stream <= 4 bytes per syscall (``--check``
exits 1 if missed).

Usage: python bench/journal_size.py [--n 200000] [--guests] [--check]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from wasi_rr.host.table import function_names
from wasi_rr.journal import Call as JournalCall
from wasi_rr.journal import JournalHeader, JournalWriter, open_journal
from wasi_rr.journal.records import append_call

P1 = "wasi_snapshot_preview1"
CLOCK_TARGET = 4.0

Call = tuple[str, tuple[int, ...], list[bytes], int, list[tuple[int, bytes]]]
"""(name, params, input buffers, errno, (addr, bytes) writes) of one synthetic call."""

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "chi",
    "psi",
    "omega",
    "request",
    "response",
    "ok",
    "error",
    "user",
    "session",
    "id",
    "value",
    "count",
    "total",
    "done",
    "start",
    "stop",
]


def _text(rng: random.Random, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        out += rng.choice(WORDS).encode() + (b"\n" if rng.random() < 0.1 else b" ")
    return bytes(out[:n])


def clock(n: int, rng: random.Random, step: tuple[int, int] = (2000, 3000)) -> Iterator[Call]:
    t = 1_700_000_000_000_000_000
    for _ in range(n):
        t += rng.randint(*step)
        yield "clock_time_get", (1, 1000, 0xFFFFC8), [], 0, [(0xFFFFC8, t.to_bytes(8, "little"))]


def clock_jitter(n: int, rng: random.Random) -> Iterator[Call]:
    return clock(n, rng, (1000, 100_000))


def write_file(n: int, rng: random.Random) -> Iterator[Call]:
    for i in range(n):
        rec = (b"%08d " % i) + _text(rng, 55)
        iov = (0x10000).to_bytes(4, "little") + len(rec).to_bytes(4, "little")
        yield "fd_write", (3, 0xFFF00, 1, 0xFFF0C), [iov, rec], 0, [(0xFFF0C, b"\x40\0\0\0")]


def write_stdout(n: int, rng: random.Random) -> Iterator[Call]:
    for i in range(n):
        line = b"[%d] " % i + _text(rng, rng.randint(20, 120)) + b"\n"
        iov = (0x20000).to_bytes(4, "little") + len(line).to_bytes(4, "little")
        yield (
            "fd_write",
            (1, 0xFFF00, 1, 0xFFF0C),
            [iov, line],
            0,
            [(0xFFF0C, len(line).to_bytes(4, "little"))],
        )


def read_file(n: int, rng: random.Random) -> Iterator[Call]:
    for _ in range(n):
        block = _text(rng, 4096)
        iov = (0x30000).to_bytes(4, "little") + (4096).to_bytes(4, "little")
        yield (
            "fd_read",
            (4, 0xFFF00, 1, 0xFFF0C),
            [iov],
            0,
            [(0x30000, block), (0xFFF0C, b"\0\x10\0\0")],
        )


def random_get(n: int, rng: random.Random) -> Iterator[Call]:
    for _ in range(n):
        yield "random_get", (0x5000, 16), [], 0, [(0x5000, rng.randbytes(16))]


def mixed(n: int, rng: random.Random) -> Iterator[Call]:
    t = 1_700_000_000_000_000_000
    fd = 5
    for i in range(n):
        k = i % 5
        if k == 0:
            path = b"data/file%03d.txt" % rng.randrange(200)
            yield (
                "path_open",
                (3, 1, 0x8000, len(path), 0, 0x1FFFFFFF, 0x1FFFFFFF, 0, 0xFFF10),
                [path],
                0,
                [(0xFFF10, fd.to_bytes(4, "little"))],
            )
        elif k == 1:
            data = _text(rng, rng.randint(10, 300))
            yield (
                "fd_read",
                (fd, 0xFFF00, 1, 0xFFF0C),
                [b"\0\0\x03\0\0\x10\0\0"],
                0,
                [(0x30000, data), (0xFFF0C, len(data).to_bytes(4, "little"))],
            )
        elif k == 2:
            t += rng.randint(1000, 50_000)
            yield "clock_time_get", (0, 1, 0xFFFFC8), [], 0, [(0xFFFFC8, t.to_bytes(8, "little"))]
        elif k == 3:
            line = _text(rng, 40) + b"\n"
            yield (
                "fd_write",
                (1, 0xFFF00, 1, 0xFFF0C),
                [b"\0\0\x02\0\x29\0\0\0", line],
                0,
                [(0xFFF0C, len(line).to_bytes(4, "little"))],
            )
        else:
            yield "fd_close", (fd,), [], 0, []


STREAMS: dict[str, Callable[[int, random.Random], Iterator[Call]]] = {
    "clock": clock,
    "clock-jitter": clock_jitter,
    "write-file": write_file,
    "write-stdout": write_stdout,
    "read-file": read_file,
    "random": random_get,
    "mixed": mixed,
}


def _addressed(name: str, params: tuple[int, ...], inputs: list[bytes]) -> list[tuple[int, bytes]]:
    """Guest addresses of a call's inputs, as the adapter reads them: an iovec array
    at ``iovs`` then each buffer where its iovec points; a path at ``path``."""
    if name == "fd_write":
        iov = inputs[0]
        return [(params[1], iov), (int.from_bytes(iov[:4], "little"), inputs[1])]
    if name == "fd_read":
        return [(params[1], inputs[0])]
    if name == "path_open":
        return [(params[2], inputs[0])]
    return [(0x1000, b) for b in inputs]


def measure_stream(name: str, n: int, tmp: Path) -> tuple[str, int, int, float, float, float]:
    functions = function_names()
    fids = {f.split("::")[1]: i for i, f in enumerate(functions) if f.startswith(P1)}
    path = tmp / f"{name}.wrr"
    w = JournalWriter(path, JournalHeader(module_sha256="", functions=functions), background=False)
    calls = []  # generated (and digested: the adapter reads inputs anyway) before timing
    for nm, params, inputs, errno, writes in STREAMS[name](n, random.Random(42)):
        flags = params[0] if nm == "fd_write" and params[0] in (1, 2) else 0
        ins = [(a, w.digest(d, keep=bool(flags))) for a, d in _addressed(nm, params, inputs)]
        calls.append((fids[nm], flags, params, errno, ins, writes))
    buf, limit, flush_full = w.buf, w.limit, w.flush_full
    t0 = time.process_time()
    for fid, flags, params, errno, ins, writes in calls:
        append_call(buf, fid, flags, params, errno, ins, writes)
        if len(buf) >= limit:
            flush_full()
    w.close(syscalls=n)
    write_us = (time.process_time() - t0) / n * 1e6
    return _summarize(name, path, n, write_us)


def _summarize(
    name: str, path: Path, n: int, write_us: float
) -> tuple[str, int, int, float, float, float]:
    t0 = time.process_time()
    with open_journal(path) as r:
        count = sum(1 for e in r if isinstance(e, JournalCall))
        stats = r.stats
    read_us = (time.process_time() - t0) / max(count, 1) * 1e6
    assert count == n, (name, count, n)
    ratio = stats.raw_bytes / stats.stored_bytes if stats.stored_bytes else 0.0
    return name, n, stats.stored_bytes, ratio, write_us, read_us


def measure_guest(
    name: str, args: list[str], n_calls: int, tmp: Path, **cfg: object
) -> tuple[str, int, int, float, float, float]:
    sys.path.insert(0, str(REPO / "tests"))
    import guestbuild

    from wasi_rr.api import RunConfig, run
    from wasi_rr.record import record

    wasm = guestbuild.build(name)
    path = tmp / f"guest-{name}.wrr"

    def config() -> RunConfig:
        return RunConfig(module=wasm, args=args, stdout=io.BytesIO(), **cfg)  # type: ignore[arg-type]

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            t = time.process_time()
            fn()
            times.append(time.process_time() - t)
        return min(times)

    plain = best(lambda: run(config()))
    recorded = best(lambda: record(config(), path))
    with open_journal(path) as r:
        syscalls = sum(1 for e in r if isinstance(e, JournalCall))
        stats = r.stats
    ratio = stats.raw_bytes / stats.stored_bytes if stats.stored_bytes else 0.0
    us = [x / syscalls * 1e6 for x in (plain, recorded)]
    print(
        f"  guest {name}: CPU us/syscall: run {us[0]:.2f}, record {us[1]:.2f} "
        f"(+{us[1] - us[0]:.2f} over run; see bench/record_cost.py for the targets)"
    )
    return f"guest:{name}", syscalls, stats.stored_bytes, ratio, float("nan"), float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="syscalls per synthetic stream")
    ap.add_argument("--guests", action="store_true", help="also record real corpus guests")
    ap.add_argument("--check", action="store_true", help="exit 1 if the clock target is missed")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in STREAMS:
            rows.append(measure_stream(name, args.n, tmp))
        if args.guests:
            rows.append(measure_guest("bench_clock", [str(args.n)], args.n, tmp))
            rows.append(
                measure_guest(
                    "bench_files", [str(args.n // 2), "/tmp"], args.n, tmp, tmpfs=["/tmp"]
                )
            )
    print(
        f"{'stream':<18} {'syscalls':>9} {'entry bytes':>12} {'B/syscall':>10} "
        f"{'ratio':>7} {'write us':>9} {'read us':>8}"
    )
    for name, n, stored, ratio, wus, rus in rows:
        print(
            f"{name:<18} {n:>9} {stored:>12} {stored / n:>10.2f} {ratio:>6.1f}x "
            f"{wus:>9.2f} {rus:>8.2f}"
        )
    print(
        "(entry bytes: ENTRIES frames incl. headers, no module; write/read us: CPU time "
        "per record of append_call + flush_full (the recorder's path) / JournalReader "
        "iteration)"
    )
    clock_bps = rows[0][2] / rows[0][1]
    if args.check and clock_bps > CLOCK_TARGET:
        print(f"FAIL: clock stream {clock_bps:.2f} > {CLOCK_TARGET} bytes/syscall")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
