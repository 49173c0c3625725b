"""The adapter on real wasm (WAT) against a fake kernel: encoding, faults,
traps, exits, unknown imports, observation and replay seams."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from adapter_fake_kernel import FakeKernel
from adapter_wat import RESULT_ADDR, Recorder, call_module, run_wat, sig

from wasi_rr.errors import ModuleError, UnknownImportsError
from wasi_rr.exitcodes import ExitStatus
from wasi_rr.host.boundary import fastcall
from wasi_rr.host.boundary.adapter import GuestAbort, HostAdapter
from wasi_rr.host.kernel.wasi_types import Errno, ProcExit
from wasi_rr.host.runtime.process import Process, compile_module, make_engine
from wasi_rr.host.table import SIGNATURES, Role, Signature
from wasi_rr.host.table.format import format_call
from wasi_rr.journal import Call

WILD = 0xFFFF_FFF0
GOOD = 0x100  # zero-filled, valid region for every other pointer
IOVEC_AT = 0x40

BOTH_PATHS = pytest.mark.parametrize("observe", [False, True], ids=["run", "record"])
"""The generated RUN and RECORD callbacks must behave identically for the guest."""


def hello_data() -> dict[int, bytes]:
    return {IOVEC_AT: struct.pack("<II", 0x200, 6), 0x200: b"hello\n"}


# -- plain encoding -------------------------------------------------------------------------

@BOTH_PATHS
def test_fd_write_and_nwritten(observe: bool) -> None:
    k = FakeKernel()
    ran = run_wat(
        call_module([(sig("fd_write"), [1, IOVEC_AT, 1, 0x300])], hello_data()), k, observe=observe
    )
    assert ran.outcome.exit_code == 0 and ran.outcome.trap is None
    assert bytes(k.out[1]) == b"hello\n"
    assert ran.result() == 0
    assert ran.memory(0x300, 4) == struct.pack("<I", 6)


@BOTH_PATHS
def test_gathered_iovecs_and_bad_fd_errno(observe: bool) -> None:
    data = {IOVEC_AT: struct.pack("<IIII", 0x200, 2, 0x210, 3), 0x200: b"ab", 0x210: b"cde"}
    k = FakeKernel()
    ran = run_wat(
        call_module(
            [
                (sig("fd_write"), [2, IOVEC_AT, 2, 0x300]),
                (sig("fd_write"), [9, IOVEC_AT, 2, 0x300]),
            ],
            data,
        ),
        k,
        observe=observe,
    )
    assert bytes(k.out[2]) == b"abcde"
    assert ran.result(0) == 0
    assert ran.result(1) == Errno.BADF


def test_args_and_environ_encoding() -> None:
    k = FakeKernel(args=[b"prog", b"x y"], env=[b"A=1"])
    ran = run_wat(
        call_module(
            [
                (sig("args_sizes_get"), [0x100, 0x104]),
                (sig("args_get"), [0x200, 0x300]),
                (sig("environ_sizes_get"), [0x108, 0x10C]),
                (sig("environ_get"), [0x400, 0x500]),
            ]
        ),
        k,
    )
    assert [ran.result(i) for i in range(4)] == [0, 0, 0, 0]
    assert struct.unpack("<IIII", ran.memory(0x100, 16)) == (2, 9, 1, 4)
    assert struct.unpack("<II", ran.memory(0x200, 8)) == (0x300, 0x305)
    assert ran.memory(0x300, 9) == b"prog\0x y\0"
    assert struct.unpack("<I", ran.memory(0x400, 4)) == (0x500,)
    assert ran.memory(0x500, 4) == b"A=1\0"


@BOTH_PATHS
def test_read_scatters_over_iovecs(observe: bool) -> None:
    data = {IOVEC_AT: struct.pack("<IIII", 0x200, 3, 0x210, 10)}
    k = FakeKernel(stdin=b"abcdefg")
    ran = run_wat(
        call_module([(sig("fd_read"), [0, IOVEC_AT, 2, 0x300])], data), k, observe=observe
    )
    assert ran.result() == 0
    assert ran.memory(0x200, 3) == b"abc" and ran.memory(0x210, 5) == b"defg\0"
    assert ran.memory(0x300, 4) == struct.pack("<I", 7)
    assert ("fd_read", (0, 13)) in k.calls


@BOTH_PATHS
def test_struct_outputs(observe: bool) -> None:
    k = FakeKernel()
    ran = run_wat(
        call_module(
            [
                (sig("fd_fdstat_get"), [1, 0x100]),
                (sig("fd_filestat_get"), [3, 0x200]),
                (sig("fd_prestat_get"), [3, 0x300]),
                (sig("fd_seek"), [3, 2**64 - 4, 1, 0x310]),
                (sig("clock_time_get"), [1, 1, 0x320]),
            ]
        ),
        k,
        observe=observe,
    )
    assert [ran.result(i) for i in range(5)] == [0] * 5
    ft, flags, base, inh = struct.unpack("<BxHxxxxQQ", ran.memory(0x100, 24))
    assert (ft, flags, base, inh) == (2, 1, 1 << 6, 0)
    assert struct.unpack("<QQB7xQQQQQ", ran.memory(0x200, 64)) == (1, 2, 4, 1, 10, 5, 6, 7)
    assert struct.unpack("<B3xI", ran.memory(0x300, 8)) == (0, 5)
    assert struct.unpack("<Q", ran.memory(0x310, 8)) == (96,)  # fake: 100 + offset(-4)
    assert ("fd_seek", (3, -4, 1)) in k.calls
    assert struct.unpack("<Q", ran.memory(0x320, 8)) == (1_000_000_001,)


@BOTH_PATHS
def test_truncating_outputs(observe: bool) -> None:
    k = FakeKernel()
    ran = run_wat(
        call_module(
            [
                (sig("fd_prestat_dir_name"), [3, 0x100, 4]),
                (sig("fd_prestat_dir_name"), [3, 0x100, 5]),
                (sig("path_readlink"), [3, 0x500, 4, 0x200, 6, 0x300]),
                (sig("fd_readdir"), [3, 0x400, 60, 0, 0x304]),
            ],
            {0x500: b"link"},
        ),
        k,
        observe=observe,
    )
    assert ran.result(0) == Errno.NAMETOOLONG
    assert ran.result(1) == 0 and ran.memory(0x100, 5) == b"/data"
    assert ran.result(2) == 0 and ran.memory(0x200, 7) == b"target\0"
    assert struct.unpack("<I", ran.memory(0x300, 4)) == (6,)
    # readdir: "." (25 bytes) + ".." (26 bytes) + 9 bytes of the third header
    assert ran.result(3) == 0
    assert struct.unpack("<I", ran.memory(0x304, 4)) == (60,)
    assert struct.unpack("<QQIB", ran.memory(0x400, 21)) == (1, 10, 1, 3)
    assert ran.memory(0x400 + 24, 1) == b"."
    assert struct.unpack("<QQIB", ran.memory(0x400 + 25, 21)) == (2, 11, 2, 3)


@BOTH_PATHS
def test_invalid_enum_and_utf8(observe: bool) -> None:
    k = FakeKernel()
    ran = run_wat(
        call_module(
            [
                (sig("fd_seek"), [3, 0, 7, 0x100]),
                (sig("path_open"), [3, 0, 0x500, 2, 0, 0, 0, 0, 0x100]),
                (sig("clock_time_get"), [9, 0, 0x100]),
                (sig("path_open"), [3, 0, 0x510, 7, 0, 0, 0, 0, 0x100]),
            ],
            {0x500: b"\xff\xfe", 0x510: b"missing"},
        ),
        k,
        observe=observe,
    )
    assert ran.result(0) == Errno.INVAL
    assert ran.result(1) == Errno.ILSEQ
    assert ran.result(2) == Errno.INVAL
    assert ran.result(3) == Errno.NOENT
    assert [c for c, _ in k.calls] == ["path_open"]


@BOTH_PATHS
def test_memory_growth_is_seen(observe: bool) -> None:
    # _start grows memory by one page, then writes from a buffer in the new page
    extra = "(func $grow (drop (memory.grow (i32.const 1))))"
    wat = call_module([(sig("fd_write"), [1, 0x10040, 1, 0x10100])])
    wat = wat.replace(
        '(func (export "_start")',
        extra + ' (func (export "_start") (call $grow) '
        "(i32.store (i32.const 0x10040) (i32.const 0x10000)) "
        "(i32.store (i32.const 0x10044) (i32.const 3)) "
        "(i32.store (i32.const 0x10000) (i32.const 0x0a6968))",
    )
    k = FakeKernel()
    ran = run_wat(wat, k, observe=observe)
    assert ran.result() == 0
    assert bytes(k.out[1]) == b"hi\n"


# -- EFAULT for every pointer-taking function ------------------------------------------------


def _pointer_cases() -> list[tuple[str, str, str]]:
    cases = []
    for (module, name), s in SIGNATURES.items():
        if s.irregular is not None and s.module != "wasi_snapshot_preview1":
            continue  # the process calls need a process group
        for p in s.params:
            if p.role in (
                Role.IN_STR,
                Role.IN_IOVS,
                Role.OUT_IOVS,
                Role.OUT_BUF,
                Role.OUT,
                Role.IN_SUBS,
                Role.OUT_EVENTS,
                Role.OUT_PTR_ARRAY,
                Role.OUT_STR_BUF,
            ):
                cases.append((module, name, p.name))
    return cases


@BOTH_PATHS
@pytest.mark.parametrize(("module", "name", "param"), _pointer_cases())
def test_wild_pointer_is_efault(module: str, name: str, param: str, observe: bool) -> None:
    s = SIGNATURES[(module, name)]
    args = []
    for p in s.params:
        if p.name == param:
            args.append(WILD)
        elif p.role is Role.FD:
            args.append(3)
        elif p.role is Role.LEN:
            args.append(1)
        elif p.role in (Role.VALUE, Role.FLAGS, Role.ENUM, Role.SIGNED, Role.RIGHTS):
            args.append(0)
        else:
            args.append(GOOD)
    k = FakeKernel()
    ran = run_wat(call_module([(s, args)]), k, observe=observe)
    assert ran.outcome.trap is None
    assert ran.result() == Errno.FAULT, format_call(module, name, args, [], 0, [])


@BOTH_PATHS
def test_wild_buffer_inside_iovec(observe: bool) -> None:
    k = FakeKernel(stdin=b"precious")
    data = {IOVEC_AT: struct.pack("<IIII", 0x200, 4, 0xFFF0, 0x100)}
    ran = run_wat(
        call_module(
            [(sig("fd_read"), [0, IOVEC_AT, 2, 0x300]), (sig("fd_write"), [1, IOVEC_AT, 2, 0x300])],
            data,
        ),
        k,
        observe=observe,
    )
    assert ran.result(0) == Errno.FAULT and ran.result(1) == Errno.FAULT
    assert k.calls == []  # nothing reached the kernel: stdin was not consumed
    assert k.stdin == b"precious"


def test_length_overflowing_u32_is_efault() -> None:
    k = FakeKernel()
    ran = run_wat(call_module([(sig("random_get"), [0x100, 0xFFFF_FFFF])]), k)
    assert ran.result() == Errno.FAULT


# -- how runs end ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 7, 255, 256, 0xFFFF_FFFF])
def test_proc_exit_codes(code: int) -> None:
    ran = run_wat(
        call_module(
            [(sig("proc_exit"), [code]), (sig("fd_write"), [1, IOVEC_AT, 1, 0x300])], hello_data()
        ),
        FakeKernel(),
    )
    assert ran.outcome.exit_code == code and ran.outcome.trap is None


def test_guest_trap() -> None:
    wat = call_module([]).replace('(func (export "_start")', '(func (export "_start") unreachable')
    ran = run_wat(wat, FakeKernel())
    assert ran.outcome.exit_code == ExitStatus.TRAP
    assert ran.outcome.trap is not None and "unreachable" in ran.outcome.trap


def test_host_bug_becomes_trap_with_message() -> None:
    ran = run_wat(call_module([(sig("fd_sync"), [3])]), FakeKernel())
    assert ran.outcome.exit_code == ExitStatus.TRAP
    assert ran.outcome.trap is not None
    assert ran.outcome.trap.startswith(
        "wasi-rr host error in fd_sync: ZeroDivisionError: kernel bug"
    )
    assert isinstance(ran.outcome.host_error, ZeroDivisionError)


def test_malformed_module_is_module_error() -> None:
    with pytest.raises(ModuleError, match="invalid module"):
        run_wat('(module (func (export "_start") (i32.add)))', FakeKernel())


def test_not_a_command() -> None:
    with pytest.raises(ModuleError, match="not a WASI command: no '_start'"):
        run_wat('(module (memory (export "memory") 1))', FakeKernel())
    with pytest.raises(ModuleError, match="no 'memory'"):
        run_wat('(module (func (export "_start")))', FakeKernel())


# -- unknown imports -------------------------------------------------------------------------

UNKNOWN = """(module
  (import "env" "foo" (func $foo))
  (import "wasi_snapshot_preview1" "no_such_call" (func $bar (param i32) (result i32)))
  (import "wasix_32v1" "proc_exec" (func $fork (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $y)) CALL))"""


def test_unknown_imports_listed_in_one_error() -> None:
    with pytest.raises(UnknownImportsError) as info:
        run_wat(UNKNOWN.replace("CALL", ""), FakeKernel())
    assert info.value.imports == [
        "env::foo",
        "wasi_snapshot_preview1::no_such_call",
        "wasix_32v1::proc_exec",
    ]
    assert "env::foo, wasi_snapshot_preview1::no_such_call, wasix_32v1::proc_exec" in str(
        info.value
    )


def test_trap_unknown_imports() -> None:
    k = FakeKernel()
    ran = run_wat(UNKNOWN.replace("CALL", ""), k, trap_unknown_imports=True)
    assert ran.outcome.exit_code == 0 and k.calls == [("sched_yield", ())]
    ran = run_wat(UNKNOWN.replace("CALL", "(call $foo)"), FakeKernel(), trap_unknown_imports=True)
    assert ran.outcome.trap is not None
    assert "unknown import env::foo called" in ran.outcome.trap


# -- observation and replay seams ------------------------------------------------------------


def test_observer_records() -> None:
    k = FakeKernel()
    ran = run_wat(
        call_module(
            [
                (sig("fd_write"), [1, IOVEC_AT, 1, 0x300]),
                (sig("fd_read"), [0, WILD, 1, 0x300]),
                (sig("proc_exit"), [5]),
            ],
            hello_data(),
        ),
        k,
        observe=True,
    )
    assert ran.outcome.exit_code == 5
    w, r, e = ran.records
    assert (w.seq, w.name, w.params) == (0, "fd_write", (1, IOVEC_AT, 1, 0x300))
    assert w.inputs == ((IOVEC_AT, struct.pack("<II", 0x200, 6)), (0x200, b"hello\n"))
    assert (w.errno, w.writes) == (0, ((0x300, struct.pack("<I", 6)),))
    assert (r.seq, r.errno, r.inputs, r.writes) == (1, Errno.FAULT, (), ())
    assert (e.seq, e.name, e.errno, e.writes) == (2, "proc_exit", 0, ())
    assert (
        format_call(w.module, w.name, w.params, w.input_data, w.errno, w.writes)
        == 'fd_write(fd=1, iovs=[b"hello\\n"]) = SUCCESS {nwritten=6}'
    )


class ListReplay:
    """A minimal verbatim replay as a ``CallbackSource``: checks the question
    (function, params, every input at its address), replays the answer."""

    def __init__(self, records: list[Call]) -> None:
        self.records = list(records)

    def __call__(self, sig: Signature, adapter: HostAdapter) -> fastcall.RawCallback:
        def call(params: tuple[int, ...]) -> int:
            expected = self.records.pop(0)
            mem = adapter.memory
            same = (sig.name, params) == (expected.name, expected.params) and all(
                bytes(mem.view[a : a + len(d)]) == d for a, d in expected.inputs
            )
            if not same:
                raise GuestAbort(f"divergence at #{expected.seq}: {sig.name}{params}")
            for addr, data in expected.writes:
                mem.write(addr, data)
            if sig.name == "proc_exit":
                raise ProcExit(params[0])
            return expected.errno

        return fastcall.params_callback(
            len(sig.params),
            sig.raw_struct.unpack_from,
            call,
            lambda exc: adapter.stop_guest(sig, exc),
            sig.result is not None,
        )


def test_replay_seam_reproduces_without_kernel() -> None:
    wat = call_module(
        [
            (sig("clock_time_get"), [0, 0, 0x300]),
            (sig("random_get"), [0x310, 8]),
            (sig("fd_write"), [1, IOVEC_AT, 1, 0x320]),
            (sig("fd_write"), [77, IOVEC_AT, 1, 0x320]),
            (sig("proc_exit"), [3]),
        ],
        hello_data(),
    )
    live = run_wat(wat, FakeKernel(), observe=True)
    replayed = run_wat(wat, source=ListReplay(live.records))
    assert replayed.outcome == live.outcome
    assert replayed.memory(0x300, 0x40) == live.memory(0x300, 0x40)
    assert [replayed.result(i) for i in range(4)] == [0, 0, 0, Errno.BADF]


def test_guest_abort_propagates() -> None:
    wat = call_module([(sig("sched_yield"), [])])
    bogus = [Call(0, "wasi_snapshot_preview1", "fd_close", (1,), (), 0, ())]
    with pytest.raises(GuestAbort, match="divergence at #0"):
        run_wat(wat, source=ListReplay(bogus))


class SkipFirstYield:
    """Interceptor answering the first sched_yield itself (as an unwind would)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[int, ...]]] = []

    def before_call(self, signature: Signature, params: tuple[int, ...]) -> int | None:
        self.seen.append((signature.name, params))
        return 99 if len(self.seen) == 1 else None


def test_interceptor_runs_first_and_can_answer() -> None:
    k = FakeKernel()
    interceptor = SkipFirstYield()
    engine = make_engine()
    module = compile_module(
        engine, call_module([(sig("sched_yield"), []), (sig("sched_yield"), [])]).encode()
    )
    recorder = Recorder()
    process = Process(engine, module, HostAdapter(k, recorder=recorder, interceptor=interceptor))
    assert process.run().exit_code == 0
    assert interceptor.seen == [("sched_yield", ()), ("sched_yield", ())]
    assert k.calls == [("sched_yield", ())]
    assert [(r.seq, r.name) for r in recorder.records] == [(0, "sched_yield")]
    mem = process.instance.exports(process.store)["memory"]
    assert bytes(mem.read(process.store, RESULT_ADDR, RESULT_ADDR + 8)) == struct.pack("<ii", 99, 0)


def test_non_function_import_is_unknown_even_with_trap_flag() -> None:
    wat = ('(module (import "env" "mem" (memory 1)) (func (export "_start")) '
           '(export "memory" (memory 0)))')
    with pytest.raises(UnknownImportsError, match=r"env::mem \(memory\)"):
        run_wat(wat, FakeKernel(), trap_unknown_imports=True)


def test_wrong_type_for_a_wasi_import_is_module_error() -> None:
    wat = """(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))
      (memory (export "memory") 1) (func (export "_start")))"""
    with pytest.raises(ModuleError, match=r"cannot instantiate.*fd_write"):
        run_wat(wat, FakeKernel())


class ExplodingRecorder(Recorder):
    def emitter(self, adapter: HostAdapter) -> Any:
        def emit(*args: object) -> None:
            raise ValueError("recorder bug")

        return emit


def test_recorder_exception_is_host_error_trap() -> None:
    engine = make_engine()
    module = compile_module(engine, call_module([(sig("sched_yield"), [])]).encode())
    process = Process(engine, module, HostAdapter(FakeKernel(), recorder=ExplodingRecorder()))
    outcome = process.run()
    assert outcome.trap == "wasi-rr host error in sched_yield: ValueError: recorder bug"
    assert outcome.exit_code == ExitStatus.TRAP


class InterruptedKernel(FakeKernel):
    def sched_yield(self) -> None:
        raise KeyboardInterrupt


@BOTH_PATHS
def test_keyboard_interrupt_propagates(observe: bool) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_wat(call_module([(sig("sched_yield"), [])]), InterruptedKernel(), observe=observe)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("(call $exit (i32.const 4))", (4, None)),
        ("unreachable", (ExitStatus.TRAP, "wasm `unreachable` instruction executed")),
    ],
)
def test_start_function_ends_the_run(body: str, expected: tuple[int, str | None]) -> None:
    wat = f"""(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1) (func $init {body}) (start $init)
      (func (export "_start") unreachable))"""
    ran = run_wat(wat, FakeKernel())
    assert (ran.outcome.exit_code, ran.outcome.trap) == expected
