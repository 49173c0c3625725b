"""Bounds-checked access to a guest's linear memory.

The adapter never calls ``wasmtime.Memory.read`` (3.5 µs): it keeps a
``memoryview`` over the memory's data pointer and slices/packs it directly
(DESIGN §5). A guest pointer is only ever dereferenced through these methods,
which check it first: an out-of-bounds range raises ``WasiError(FAULT)``, so the
guest gets ``EFAULT`` and the host never reads or writes outside the memory.

Growth: the engine is created with ``memory_may_move = False`` (see
``host.process.make_engine``), so the base address of a memory never changes
and a view stays valid; it only becomes too *short* when the guest grows its
memory. A range beyond the cached size therefore triggers one re-query of the
size before it is declared a fault. Nothing is paid per call for this.

"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from wasi_rr.host.kernel.wasi_types import Errno, WasiError

ViewSource = Callable[[], memoryview]
"""Returns a fresh byte view over the whole current linear memory."""

U16: Final = struct.Struct("<H")
U32: Final = struct.Struct("<I")
U64: Final = struct.Struct("<Q")
IOVEC: Final = struct.Struct("<II")

_FAULT: Final = Errno.FAULT


def _empty_view() -> memoryview:
    return memoryview(bytearray())


class GuestMemory:
    """One instance's linear memory. Re-bindable: a snapshot/fork may attach
    the same adapter state to a new instance's memory with ``bind``."""

    __slots__ = ("_source", "size", "view")

    def __init__(self, source: ViewSource | None = None) -> None:
        self._source: ViewSource = source or _empty_view
        self.view: memoryview = self._source()
        self.size: int = len(self.view)

    # -- binding -------------------------------------------------------------

    def bind(self, source: ViewSource) -> None:
        """Attach to a (new) memory; ``source`` is called again after growth."""
        self._source = source
        self.refresh()

    def refresh(self) -> None:
        """Re-query the memory (after ``memory.grow``)."""
        self.view = self._source()
        self.size = len(self.view)

    @classmethod
    def over(cls, buffer: bytearray) -> GuestMemory:
        """A memory over a plain buffer (tests, tools working on a memory image)."""
        return cls(lambda: memoryview(buffer))

    # -- checks --------------------------------------------------------------

    def check(self, ptr: int, length: int) -> None:
        """Raise ``WasiError(FAULT)`` unless ``[ptr, ptr+length)`` is in memory."""
        if ptr + length > self.size:
            self.refresh()
            if ptr + length > self.size:
                raise WasiError(_FAULT, f"range {ptr:#x}+{length} outside memory of {self.size}")

    # -- reads (inputs) ----------------------------------------------------------

    def read(self, ptr: int, length: int) -> bytes:
        if ptr + length > self.size:
            self.check(ptr, length)
        return self.view[ptr:ptr + length].tobytes()

    def read_u32(self, ptr: int) -> int:
        value: int = U32.unpack(self.read(ptr, 4))[0]
        return value

    def read_str(self, ptr: int, length: int) -> str:
        """A path: UTF-8 or ``ILSEQ``."""
        raw = self.read(ptr, length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WasiError(Errno.ILSEQ, "path is not UTF-8") from None

    def read_ciovecs(self, ptr: int, count: int) -> bytes:
        """Gather the input buffers of a ``ciovec`` array."""
        if ptr + 8 * count > self.size:
            self.check(ptr, 8 * count)
        if count == 1:
            base, length = IOVEC.unpack_from(self.view, ptr)
            if base + length > self.size:
                self.check(base, length)
            return bytes(self.view[base:base + length])
        parts = []
        for base, length in IOVEC.iter_unpack(self.view[ptr:ptr + 8 * count]):
            if base + length > self.size:
                self.check(base, length)
            parts.append(self.view[base:base + length])
        return b"".join(parts)

    def read_iovecs(self, ptr: int, count: int) -> list[tuple[int, int]]:
        """The output buffers of an ``iovec`` array, every one checked writable
        *before* the kernel runs (no input is consumed for a call that faults)."""
        if ptr + 8 * count > self.size:
            self.check(ptr, 8 * count)
        iovs = list(IOVEC.iter_unpack(self.view[ptr:ptr + 8 * count]))
        for base, length in iovs:
            if base + length > self.size:
                self.check(base, length)
        return iovs

    # -- writes (outputs) --------------------------------------------------------

    def write(self, ptr: int, data: bytes) -> None:
        end = ptr + len(data)
        if end > self.size:
            self.check(ptr, len(data))
        self.view[ptr:end] = data

    def put(self, ptr: int, layout: struct.Struct, *values: int) -> None:
        if ptr + layout.size > self.size:
            self.check(ptr, layout.size)
        layout.pack_into(self.view, ptr, *values)

    def put_u32(self, ptr: int, value: int) -> None:
        self.put(ptr, U32, value)

    def put_u64(self, ptr: int, value: int) -> None:
        self.put(ptr, U64, value)

    def scatter(self, iovs: list[tuple[int, int]], data: bytes) -> None:
        """Spread ``data`` over output buffers in order (the last may be partial)."""
        pos = 0
        total = len(data)
        for base, length in iovs:
            if pos >= total:
                break
            if length == 0:
                continue
            chunk = data[pos:pos + length]
            self.write(base, chunk)
            pos += len(chunk)
