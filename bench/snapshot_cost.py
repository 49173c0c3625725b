"""What a snapshot costs: instrumentation, capture, image size, resume.

Usage: python bench/snapshot_cost.py

Builds ``corpus/snapshot_bigmem.c`` (a guest with ~64 MiB of linear memory of
which ~1 MiB is written), instruments it, runs it until its first
``fd_write``, unwinds and captures there, then resumes the capture in a fresh
instance.  Targets from the design: image <= 2 MiB, capture <= 100 ms.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import wasmtime

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "snapshot"))

import guestbuild
from minihost import MiniHost

from wasi_rr.host.runtime.instrument import instrument
from wasi_rr.host.runtime.snapshot import Snapshot


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> int:
    engine = wasmtime.Engine()
    with tempfile.TemporaryDirectory() as cache:
        for name in ("snapshot_counter", "snapshot_bigmem"):
            wasm = guestbuild.build(name).read_bytes()
            t0 = time.perf_counter()
            first = instrument(wasm, cache_dir=Path(cache))
            t1 = time.perf_counter()
            second = instrument(wasm, cache_dir=Path(cache))
            t2 = time.perf_counter()
            assert not first.from_cache and second.from_cache
            print(f"instrument {name:17s} {len(wasm):7d} -> {len(first.wasm):7d} bytes: "
                  f"cold {ms(t1 - t0)}, cached {ms(t2 - t1)}")

    wasm = guestbuild.build("snapshot_bigmem").read_bytes()
    module = instrument(wasm)
    compiled = wasmtime.Module(engine, module.wasm)
    want = MiniHost(engine, compiled, module)
    assert want.run() == 0

    host = MiniHost(engine, compiled, module, policy=lambda name, n: name == "fd_write")
    t0 = time.perf_counter()
    try:
        host._start(host.store)
    finally:
        t1 = time.perf_counter()
    snap = host.controller.after_start_returned()
    t2 = time.perf_counter()
    assert isinstance(snap, Snapshot)
    blob = snap.to_bytes()
    t3 = time.perf_counter()
    written = sum(len(p) for p in snap.memory.pages.values())
    print(f"guest memory              {snap.memory.size / 2**20:8.1f} MiB, "
          f"non-zero pages {written / 2**20:.2f} MiB, asyncify stack {len(snap.asyncify_stack)} B")
    print(f"run to 1st call + unwind  {ms(t1 - t0)}  (mostly the guest's own work)")
    print(f"capture (stop+scan+globals){ms(t2 - t1)}   target <= 100 ms")
    print(
        f"serialize (zstd image)    {ms(t3 - t2)}   "
        f"size {len(blob) / 2**20:.2f} MiB (target <= 2 MiB)"
    )

    host.controller.start_rewind(snap)
    host._start(host.store)
    second = host.controller.after_start_returned()
    assert isinstance(second, Snapshot)
    delta = second.to_bytes(base=snap)
    print(
        f"delta vs previous capture {len(delta) / 1024:8.1f} KiB "
        f"(full: {len(second.to_bytes()) / 2**20:.2f} MiB)"
    )

    t0 = time.perf_counter()
    restored = Snapshot.from_bytes(blob)
    t1 = time.perf_counter()
    fresh = MiniHost(engine, compiled, module)
    t2 = time.perf_counter()
    fresh.controller.load(restored)
    fresh.controller.start_rewind(restored)
    t3 = time.perf_counter()
    code = fresh.run()
    t4 = time.perf_counter()
    # The interrupted call is the "filled" write: the fresh instance performs it.
    assert code == 0 and bytes(fresh.stdout) == bytes(want.stdout), fresh.stdout
    print(
        f"resume: decode {ms(t1 - t0)}, instantiate {ms(t2 - t1)}, "
        f"load+arm {ms(t3 - t2)}, rewind+finish {ms(t4 - t3)}"
    )
    product()
    return 0


def product() -> None:
    """The same guest through the product: ``record --snapshot-every 1`` then a
    resume in this process (instrumented module cached, as for any resume)."""
    import io

    from wasi_rr.api import RunConfig, build_kernel, make_group
    from wasi_rr.host.kernel.wasifs import WasiFs
    from wasi_rr.host.runtime.process import make_engine
    from wasi_rr.host.runtime.procs import SnapshotPolicy
    from wasi_rr.journal import SnapshotEvent, open_journal
    from wasi_rr.record import record
    from wasi_rr.snapshots import load_snapshot

    path = guestbuild.build("snapshot_bigmem")
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "big.wrr"
        t0 = time.perf_counter()
        record(
            RunConfig(
                module=path,
                stdout=io.BytesIO(),
                stderr=io.BytesIO(),
                snapshots=SnapshotPolicy(every=1),
            ),
            journal,
        )
        t1 = time.perf_counter()
        with open_journal(journal) as r:
            snaps = [e for e in r if isinstance(e, SnapshotEvent)]
        first = snaps[0]
        print(
            f"product: record --snapshot-every 1: {len(snaps)} snapshots, whole run {ms(t1 - t0)}"
        )
        print(
            f"  snapshot #{first.id} on disk      "
            f"{(len(first.snapshot) + len(first.fs)) / 2**20:8.2f} MiB"
            f"   target <= 2 MiB (later ones, deltas: "
            f"{', '.join(f'{len(e.snapshot) / 1024:.1f} KiB' for e in snaps[1:])})"
        )
        print(
            f"  capture (unwind..freeze)  {ms(first.extra['capture_ns'] / 1e9)}   target <= 100 ms"
        )
        best = float("inf")
        for _ in range(5):
            seen: list[float] = []

            class First:
                def __init__(self, seen: list[float]) -> None:
                    self.seen = seen

                def on_syscall(self, record: object) -> None:
                    if not self.seen:
                        self.seen.append(time.perf_counter())
                    raise KeyboardInterrupt  # stop at the first live syscall

            t0 = time.perf_counter()
            loaded = load_snapshot(journal, first.id)
            engine = make_engine()
            config = RunConfig(
                module=path, stdout=io.BytesIO(), stderr=io.BytesIO(), observer=First(seen)
            )
            group = make_group(config, engine, loaded.module or b"")
            kernel = build_kernel(config, fs=WasiFs.unfreeze(loaded.fs))
            group.spawn(kernel, snapshot=loaded.snapshot, seq=loaded.seq)
            try:
                group.run()
            except KeyboardInterrupt:
                pass
            best = min(best, seen[0] - t0)
        print(
            f"  resume to 1st live syscall{ms(best)}   target <= 300 ms (best of 5; "
            "load journal + decode + instrument(cached) + compile(cached) + restore + rewind)"
        )


if __name__ == "__main__":
    sys.exit(main())
