"""Build tiny WAT command modules that call one import, and run them on the adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from wasi_rr.host.boundary.adapter import CallbackSource, Emit, HostAdapter
from wasi_rr.host.runtime.process import Outcome, Process, compile_module, make_engine
from wasi_rr.host.table import SIGNATURE_LIST, SIGNATURES, Signature
from wasi_rr.journal import Call

RESULT_ADDR = 0x8000
"""Where the generated ``_start`` stores the i32 result of its calls (4 bytes each)."""


def wat_bytes(data: bytes) -> str:
    return "".join(f"\\{b:02x}" for b in data)


def call_module(calls: Sequence[tuple[Signature, Sequence[int]]],
                data: dict[int, bytes] | None = None, pages: int = 1,
                extra: str = "") -> str:
    """A command whose ``_start`` makes ``calls`` in order, storing each i32
    result at ``RESULT_ADDR + 4*i``."""
    imports: dict[str, str] = {}
    body: list[str] = []
    for index, (sig, args) in enumerate(calls):
        fname = f"${sig.module}_{sig.name}"
        params = " ".join(p.wasm.value for p in sig.params)
        result = "(result i32)" if sig.result is not None else ""
        imports[fname] = (f'(import "{sig.module}" "{sig.name}" '
                          f'(func {fname} (param {params}) {result}))')
        consts = " ".join(
            f"({p.wasm.value}.const {v})" for p, v in zip(sig.params, args, strict=True)
        )
        if sig.result is not None:
            body.append(
                f"(i32.store (i32.const {RESULT_ADDR + 4 * index}) (call {fname} {consts}))"
            )
        else:
            body.append(f"(call {fname} {consts})")
    datas = "".join(
        f'(data (i32.const {addr}) "{wat_bytes(b)}")' for addr, b in (data or {}).items()
    )
    return (
        f'(module {"".join(imports.values())} (memory (export "memory") {pages}) {datas} '
        f'{extra} (func (export "_start") {" ".join(body)}))'
    )


def sig(name: str, module: str = "wasi_snapshot_preview1") -> Signature:
    return SIGNATURES[(module, name)]


class Recorder:
    """The adapter's ``Recorder`` protocol, keeping every call as a ``Call``."""

    def __init__(self) -> None:
        self.records: list[Call] = []

    def function_id(self, sig: Signature) -> int:
        return SIGNATURE_LIST.index(sig)

    def emitter(self, adapter: HostAdapter) -> Emit:
        def emit(
            fid: int,
            flags: int,
            params: tuple[int, ...],
            errno: int,
            ins: list[tuple[int, bytes]],
            outs: list[tuple[int, bytes]],
        ) -> None:
            s = SIGNATURE_LIST[fid]
            self.records.append(
                Call(
                    len(self.records),
                    s.module,
                    s.name,
                    tuple(params),
                    tuple(ins),
                    errno,
                    tuple(outs),
                    adapter.pid,
                    flags,
                )
            )

        return emit


@dataclass
class Ran:
    outcome: Outcome
    process: Process
    records: list[Call] = field(default_factory=list)

    def memory(self, addr: int, length: int) -> bytes:
        mem = self.process.instance.exports(self.process.store)["memory"]
        assert isinstance(mem, wasmtime.Memory)
        return bytes(mem.read(self.process.store, addr, addr + length))

    def result(self, index: int = 0) -> int:
        return int.from_bytes(self.memory(RESULT_ADDR + 4 * index, 4), "little", signed=True)


def run_wat(
    wat: str,
    kernel: Any = None,
    *,
    source: CallbackSource | None = None,
    observe: bool = False,
    trap_unknown_imports: bool = False,
) -> Ran:
    """Run ``wat`` on ``kernel`` (RUN callbacks), or recording (``observe``: RECORD
    callbacks into a ``Recorder``), or answered by ``source``."""
    engine = make_engine()
    module = compile_module(engine, wat.encode())
    recorder = Recorder() if observe else None
    adapter = HostAdapter(
        kernel, recorder=recorder, source=source, trap_unknown_imports=trap_unknown_imports
    )
    process = Process(engine, module, adapter)
    outcome = process.run()
    return Ran(outcome, process, recorder.records if recorder else [])
