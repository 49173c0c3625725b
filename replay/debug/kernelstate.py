"""The WASI kernel as it was at a position: the filesystem, fd table and offsets.

The guest replay answers calls from the journal and never touches a kernel, so
the kernel state at call N is rebuilt apart from it: a ``WasiKernel`` made
from the journal header (``KernelVerifier.from_journal``: argv, env, preopens,
host directories from the capture the journal carries, materialized in a
private temporary directory) re-executes calls 0..N-1 with the recorded
inputs, as ``--verify`` does, its clocks, randomness and stdin fed from the
journal. The inputs are written into a scratch memory at their recorded
addresses, so no guest instance is needed; inputs the journal stored only as
a digest come from ``digests`` (read from the live guest as the debugger's
replays pass them).

Moving forward re-executes only the calls in between; moving back starts over
(a frozen ``WasiFs`` cannot restore a write-through host mount's files, so a
checkpoint would be wrong exactly where it matters). ``resume --at`` uses the
same shadow to bring the kernel to the point where it goes live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wasi_rr.host.boundary.adapter import HostAdapter, Observe
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.table import SIGNATURES, Signature
from wasi_rr.journal import InputDigest, JournalReader

from ..divergence import Divergence, DivergenceKind
from ..verify import KernelVerifier
from .index import JournalIndex

__all__ = ["KernelShadow", "ShadowAdapter"]


class ShadowAdapter(HostAdapter):
    """A ``HostAdapter`` over a scratch memory that keeps one decoder per
    signature (``--verify`` builds one per call; a shadow re-executes thousands)."""

    def __init__(self) -> None:
        super().__init__(None)
        self._buffer = bytearray(65536)
        self.memory.bind(lambda: memoryview(self._buffer))
        self._by_name: dict[tuple[str, str, int], Observe] = {}

    def observer(self, sig: Signature, kernel: Any = None) -> Observe:
        key = (sig.module, sig.name, id(kernel))
        found = self._by_name.get(key)
        if found is None:
            found = self._by_name[key] = super().observer(sig, kernel)
        return found

    def ensure(self, size: int) -> None:
        """Make the scratch memory at least ``size`` bytes (a new buffer: views of
        the old one may still exist)."""
        if size > len(self._buffer):
            grown = bytearray(max(size, 2 * len(self._buffer)))
            grown[:len(self._buffer)] = self._buffer
            self._buffer = grown
            self.memory.refresh()

    def put(self, addr: int, data: bytes) -> None:
        self.ensure(addr + len(data))
        self.memory.view[addr:addr + len(data)] = data


@dataclass(eq=False)
class KernelShadow:
    """A kernel re-executed up to ``position`` (see module docstring)."""

    index: JournalIndex
    reader: JournalReader
    digests: dict[int, list[tuple[int, bytes]]]
    position: int = 0
    verifier: KernelVerifier | None = None
    adapter: ShadowAdapter = field(default_factory=ShadowAdapter)
    mismatches: list[Divergence] = field(default_factory=list)
    """Calls the rebuilt kernel answered differently from the recording."""
    unknown: list[int] = field(default_factory=list)
    """Calls whose digest-stored input bytes were not available (data written as zeros)."""

    @property
    def kernel(self) -> WasiKernel:
        """The kernel at ``position`` (``VerifyError`` when it cannot be rebuilt)."""
        if self.verifier is None:
            self.verifier = KernelVerifier.from_journal(self.reader)
            self.position = 0
        return self.verifier.kernel

    def at(self, position: int) -> WasiKernel:
        """The kernel before call ``position`` executes."""
        position = min(position, len(self.index))
        if self.verifier is not None and position < self.position:
            self.close()
        kernel = self.kernel
        while self.position < position:
            self._execute(self.position)
            self.position += 1
        return kernel

    def _execute(self, n: int) -> None:
        call = self.index.calls[n]
        sig = SIGNATURES.get((call.module, call.name))
        if sig is None:
            return
        adapter = self.adapter
        adapter.pid = call.pid
        kept = dict(self.digests.get(n, ()))
        for addr, data in call.inputs:
            if isinstance(data, InputDigest):
                real = kept.get(addr)
                if real is None:
                    self.unknown.append(n)
                    real = bytes(data.length)
                adapter.put(addr, real)
            else:
                adapter.put(addr, data)
        for addr, data in call.writes:
            adapter.ensure(addr + len(data))
        assert self.verifier is not None
        try:
            failure = self.verifier.check(adapter, sig, call.params, call)
        except Exception as exc:  # a kernel fault is reported, not fatal
            failure = Divergence(DivergenceKind.RESULT_MISMATCH, call.seq,
                                 f"the kernel failed: {type(exc).__name__}: {exc}")
        if failure is not None:
            self.mismatches.append(failure)

    def close(self) -> None:
        if self.verifier is not None:
            self.verifier.close()
        self.verifier = None
        self.position = 0
        self.adapter = ShadowAdapter()
        self.mismatches = []
        self.unknown = []
