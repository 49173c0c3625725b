"""Unwind at a syscall, capture, and rewind in fresh instances or the same one."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime
from minihost import Guest, HostState, MiniHost

from wasi_rr.host.runtime import memimage
from wasi_rr.host.runtime.instrument import instrument
from wasi_rr.host.runtime.snapshot import (
    InterruptedCall,
    Phase,
    Snapshot,
    SnapshotController,
    SnapshotError,
)

STDIN = b"the quick brown fox jumps over the lazy dog\n12345"

GetGuest = Callable[[str], Guest]


def reference(engine: wasmtime.Engine, g: Guest, stdin: bytes = b"") -> tuple[int, bytes]:
    """An uninterrupted run of the instrumented module (asyncify must be transparent)."""
    host = MiniHost(engine, g.compiled, g.module, HostState(stdin=stdin))
    code = host.run()
    assert isinstance(code, int)
    return code, bytes(host.stdout)


def unwind_at(name: str, nth: int) -> Callable[[str, int], bool]:
    return lambda call, count: call == name and count == nth


def test_instrumented_guest_runs_like_the_original(
    engine: wasmtime.Engine, snap_guest: GetGuest, tmp_path: Path
) -> None:
    """Asyncify is transparent: same output and status as the original under wasmtime's WASI."""
    g = snap_guest("snapshot_counter")
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.stdout_file = str(tmp_path / "out")
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    inst = linker.instantiate(store, wasmtime.Module(engine, g.original))
    with pytest.raises(wasmtime.ExitTrap) as exit_:
        inst.exports(store)["_start"](store)
    assert reference(engine, g) == (exit_.value.code, (tmp_path / "out").read_bytes())


@pytest.mark.parametrize("nth", range(1, 14))
def test_unwind_at_each_fd_write_and_rewind_in_two_fresh_instances(
    engine: wasmtime.Engine, snap_guest: GetGuest, nth: int
) -> None:
    g = snap_guest("snapshot_counter")
    want_code, want_out = reference(engine, g)
    assert want_out.count(b"\n") == 13

    host = MiniHost(engine, g.compiled, g.module, policy=unwind_at("fd_write", nth))
    snap = host.run()
    assert isinstance(snap, Snapshot)
    assert snap.pending.name == "fd_write" and snap.pending.params[0] == 1
    before = bytes(host.stdout)
    assert before.count(b"\n") == nth - 1  # the interrupted write was not performed

    # Twice in fresh instances, the second from the serialized form.
    for snapshot in (snap, Snapshot.from_bytes(snap.to_bytes())):
        fresh = MiniHost(engine, g.compiled, g.module, state=host.state.copy())
        code = fresh.resume(snapshot, load=True)
        assert code == want_code
        assert before + bytes(fresh.stdout) == want_out


def test_snapshot_in_deep_recursion_then_continue_same_instance(
    engine: wasmtime.Engine, snap_guest: GetGuest
) -> None:
    """(c): snapshot without stopping: the original instance rewinds and goes on."""
    g = snap_guest("snapshot_counter")
    want = reference(engine, g)
    host = MiniHost(engine, g.compiled, g.module, policy=unwind_at("fd_write", 2))
    snap = host.run()
    assert isinstance(snap, Snapshot)
    assert bytes(host.stdout).startswith(b"line 0") and b"depth" not in host.stdout
    assert host.controller.phase is Phase.RUNNING
    code = host.resume(snap, load=False)
    assert (code, bytes(host.stdout)) == want


def test_snapshot_every_call_during_a_run(engine: wasmtime.Engine, snap_guest: GetGuest) -> None:
    """Like ``--snapshot-every 1``: every fd_write unwinds, is captured and rewound."""
    g = snap_guest("snapshot_counter")
    want = reference(engine, g)
    host = MiniHost(engine, g.compiled, g.module, policy=lambda name, n: name == "fd_write")
    code = host.run_to_end(keep_going=True)
    assert (code, bytes(host.stdout)) == want
    snaps = host.snapshots
    assert len(snaps) == 13
    # Memory never grows for the unwind buffer: every capture has the guest's own size.
    assert len({s.memory.size for s in snaps}) == 1
    # Delta serialization along the chain reproduces every snapshot exactly.
    prev = None
    for snap in snaps:
        blob = snap.to_bytes(base=prev)
        back = Snapshot.from_bytes(blob, base=prev)
        assert back.memory == snap.memory
        assert back.globals == snap.globals and back.asyncify_stack == snap.asyncify_stack
        assert back.pending == snap.pending
        prev = snap
    # Snapshot 7 resumed in a fresh instance (from a delta-encoded blob) still ends right.
    blob = snaps[7].to_bytes(base=snaps[6])
    restored = Snapshot.from_bytes(blob, base=snaps[6])
    fresh = MiniHost(engine, g.compiled, g.module)
    assert fresh.resume(restored, load=True) == want[0]
    assert want[1].endswith(bytes(fresh.stdout)) and fresh.stdout.count(b"\n") == 13 - 7


def test_store_works_as_context_inside_a_host_call(
    engine: wasmtime.Engine, snap_guest: GetGuest
) -> None:
    """The adapter's raw C callbacks have no ``Caller``: the Store must do."""
    g = snap_guest("snapshot_counter")
    want = reference(engine, g)
    host = MiniHost(engine, g.compiled, g.module, policy=unwind_at("fd_write", 4),
                    store_as_ctx=True)
    snap = host.run()
    assert isinstance(snap, Snapshot)
    fresh = MiniHost(engine, g.compiled, g.module, store_as_ctx=True)
    fresh.controller.restore(snap)  # load + start_rewind
    assert fresh.run() == want[0]
    assert bytes(host.stdout) + bytes(fresh.stdout) == want[1]
    assert host.resume(snap, load=False) == want[0]
    assert bytes(host.stdout) == want[1]


def test_borrowed_buffer_is_given_back(engine: wasmtime.Engine, snap_guest: GetGuest) -> None:
    """The unwind buffer's region holds the guest's bytes again in the capture."""
    g = snap_guest("snapshot_counter")
    seen: dict[str, bytes] = {}
    host: MiniHost

    def policy(name: str, n: int) -> bool:
        if name == "fd_write" and n == 5:
            mem = host.instance.exports(host.store)["memory"]
            size = mem.data_len(host.store)
            seen["top"] = mem.read(host.store, size - host.controller.buffer_size, size)
            return True
        return False

    host = MiniHost(engine, g.compiled, g.module, policy=policy)
    # Put recognisable bytes at the top of memory so "given back" is not just zeros.
    mem = host.instance.exports(host.store)["memory"]
    size = mem.data_len(host.store)
    mem.write(host.store, bytes(range(256)) * 16, size - 4096)
    snap = host.run()
    assert isinstance(snap, Snapshot)
    memory = snap.memory.to_bytes()
    assert memory[snap.memory.size - host.controller.buffer_size :] == seen["top"]
    assert memory[size - 4096 : size] == bytes(range(256)) * 16
    assert size > snap.memory.size - host.controller.buffer_size  # the pattern was in the region
    assert len(snap.asyncify_stack) > 0


def test_rewind_stack_is_position_independent(
    engine: wasmtime.Engine, snap_guest: GetGuest
) -> None:
    g = snap_guest("snapshot_counter")
    want_code, want_out = reference(engine, g)
    host = MiniHost(engine, g.compiled, g.module, policy=unwind_at("fd_write", 6))
    snap = host.run()
    assert isinstance(snap, Snapshot)
    fresh = MiniHost(engine, g.compiled, g.module)
    fresh.controller = SnapshotController(g.module, fresh.store, fresh.instance, buffer_size=8192)
    assert fresh.resume(snap, load=True) == want_code
    assert bytes(host.stdout) + bytes(fresh.stdout) == want_out


@pytest.mark.parametrize(("name", "nth"), [("clock_time_get", 3), ("fd_read", 2), ("fd_read", 6)])
def test_capture_at_clock_and_fd_read(
    engine: wasmtime.Engine, snap_guest: GetGuest, name: str, nth: int
) -> None:
    g = snap_guest("snapshot_inputs")
    want_code, want_out = reference(engine, g, STDIN)
    assert want_out.count(b"\n") == 6
    host = MiniHost(
        engine, g.compiled, g.module, HostState(stdin=STDIN), policy=unwind_at(name, nth)
    )
    snap = host.run()
    assert isinstance(snap, Snapshot) and snap.pending.name == name
    for _ in range(2):
        fresh = MiniHost(engine, g.compiled, g.module, state=host.state.copy())
        assert fresh.resume(snap, load=True) == want_code
        assert bytes(host.stdout) + bytes(fresh.stdout) == want_out
    assert host.resume(snap, load=False) == want_code
    assert bytes(host.stdout) == want_out


def test_guest_that_finishes_gives_no_snapshot(
    engine: wasmtime.Engine, snap_guest: GetGuest
) -> None:
    g = snap_guest("snapshot_inputs")
    host = MiniHost(engine, g.compiled, g.module, HostState(stdin=b"abc"))
    assert host.run() == 0
    assert host.controller.after_start_returned() is None


def test_misuse_is_reported(engine: wasmtime.Engine, snap_guest: GetGuest) -> None:
    counter, inputs = snap_guest("snapshot_counter"), snap_guest("snapshot_inputs")
    host = MiniHost(engine, counter.compiled, counter.module, policy=unwind_at("fd_write", 3))
    snap = host.run()
    assert isinstance(snap, Snapshot)

    other = MiniHost(engine, inputs.compiled, inputs.module)
    with pytest.raises(SnapshotError, match="different instrumented module"):
        other.controller.load(snap)
    with pytest.raises(SnapshotError, match="not rewinding"):
        other.controller.finish_rewind(other.store)

    # Re-entering a different call than the interrupted one is caught.
    forged = Snapshot(
        snap.module_sha256,
        snap.memory,
        snap.globals,
        snap.asyncify_stack,
        InterruptedCall("wasi_snapshot_preview1", "fd_write", (2, 0, 0, 0)),
    )
    fresh = MiniHost(engine, counter.compiled, counter.module)
    with pytest.raises(SnapshotError, match="expected"):
        fresh.resume(forged, load=True)

    # A second rewind cannot be armed while one is pending.
    again = MiniHost(engine, counter.compiled, counter.module)
    again.controller.load(snap)
    again.controller.start_rewind(snap)
    with pytest.raises(SnapshotError, match="rewinding"):
        again.controller.start_rewind(snap)

    with pytest.raises(SnapshotError, match="corrupt snapshot"):
        Snapshot.from_bytes(b"\x93garbage")
    with pytest.raises(SnapshotError, match="corrupt snapshot"):
        Snapshot.from_bytes(snap.to_bytes(base=host.snapshots[0]))  # delta without its base


def test_memory_image_of_snapshot_is_sparse(engine: wasmtime.Engine, snap_guest: GetGuest) -> None:
    g = snap_guest("snapshot_counter")
    host = MiniHost(engine, g.compiled, g.module, policy=unwind_at("fd_write", 1))
    snap = host.run()
    assert isinstance(snap, Snapshot)
    assert len(snap.memory.pages) * memimage.PAGE_SIZE < snap.memory.size // 8
    assert len(snap.to_bytes()) < 64 * 1024


def test_deep_stack_snapshot_and_too_small_buffer(
    engine: wasmtime.Engine, snap_guest: GetGuest
) -> None:
    g = snap_guest("snapshot_deep")
    want = reference(engine, g)
    host = MiniHost(engine, g.compiled, g.module, policy=unwind_at("fd_write", 1))
    snap = host.run()
    assert isinstance(snap, Snapshot)
    assert len(snap.asyncify_stack) > 16 * 1024  # 3000 frames of saved locals
    for _ in range(2):
        fresh = MiniHost(engine, g.compiled, g.module)
        assert fresh.resume(Snapshot.from_bytes(snap.to_bytes()), load=True) == want[0]
        assert bytes(fresh.stdout) == want[1]

    small = MiniHost(engine, g.compiled, g.module, policy=unwind_at("fd_write", 1))
    small.controller = SnapshotController(g.module, small.store, small.instance, buffer_size=4096)
    with pytest.raises(wasmtime.Trap):
        small.run()
    message = small.controller.explain_trap()
    assert message is not None and "4096-byte asyncify buffer" in message
    assert small.controller.phase is Phase.RUNNING
    assert small.controller.explain_trap() is None


WAT_GLOBALS = r"""
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $a (mut i64) (i64.const 0))
  (global $b (mut f64) (f64.const 0))
  (global $c (mut f32) (f32.const 0))
  (global $d (mut i32) (i32.const 0))
  (data (i32.const 200) "\64\00\00\00\18\00\00\00")
  (func (export "_start")
    (global.set $a (i64.const -5))
    (global.set $b (f64.const 2.5))
    (global.set $c (f32.const -1.25))
    (global.set $d (i32.const -2))
    (drop (call $w (i32.const 1) (i32.const 200) (i32.const 0) (i32.const 300)))
    (i64.store (i32.const 100) (global.get $a))
    (f64.store (i32.const 108) (global.get $b))
    (f32.store (i32.const 116) (global.get $c))
    (i32.store (i32.const 120) (global.get $d))
    (drop (call $w (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 300)))))
"""


def test_globals_of_every_type_survive_a_fresh_restore(
    engine: wasmtime.Engine, tmp_path: Path
) -> None:
    """Also a one-page memory: the borrowed buffer is then the whole memory."""
    im = instrument(wasmtime.wat2wasm(WAT_GLOBALS), cache_dir=tmp_path)
    compiled = wasmtime.Module(engine, im.wasm)
    host = MiniHost(engine, compiled, im, policy=unwind_at("fd_write", 1))
    snap = host.run()
    assert isinstance(snap, Snapshot)
    assert snap.globals == (-5, 2.5, -1.25, -2)
    fresh = MiniHost(engine, compiled, im)
    assert fresh.resume(Snapshot.from_bytes(snap.to_bytes()), load=True) == 0
    assert bytes(fresh.stdout) == struct.pack("<qdfi", -5, 2.5, -1.25, -2)


def test_fork_from_a_snapshot(engine: wasmtime.Engine, snap_guest: GetGuest) -> None:
    """How WASIX proc_fork is built: unwind at the call, child = fresh instance of
    the capture answering 0, parent = the same instance rewound answering the pid."""
    g = snap_guest("snapshot_fork")
    parent = MiniHost(engine, g.compiled, g.module, policy=unwind_at("proc_fork", 1))
    snap = parent.run()
    assert isinstance(snap, Snapshot)
    assert snap.pending.module == "wasix_32v1" and snap.pending.name == "proc_fork"

    child = MiniHost(engine, g.compiled, g.module, state=parent.state.copy())
    child.fork_result = 0
    assert child.resume(snap, load=True) == 4
    assert bytes(child.stdout) == b"child pid=0 err=0 counter=16 heap=before-fork+child\n"

    parent.fork_result = 2
    assert parent.resume(snap, load=False) == 0
    assert bytes(parent.stdout) == b"parent pid=2 err=0 counter=115 heap=before-fork+parent\n"
