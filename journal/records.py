"""The binary record: how one call (or one event) is laid out in an ENTRIES frame.

A frame's payload is records back to back. Every record starts with the same
16-byte header; a syscall record then carries everything fixed-size (params,
descriptors) before everything variable (the bytes), so a recorder builds the
common case with one ``struct.pack`` and one ``extend``, a reader finds every
field by arithmetic, and the wasm replayer (``replay/replayer``) walks it with
plain loads. Nothing in it is msgpack: decoding a record is slicing, which is
what lets replay run at wasm speed. Little endian throughout::

    offset  size  field
         0     4  size     whole record in bytes, this field included
         4     2  fid      function number (index into the header's ``functions``);
                           0xFFFF: an event record
         6     1  flags    FLAG_STDOUT / FLAG_STDERR: a write whose bytes reached the
                           guest's stdout / stderr (bit 0 / 1); other bits 0
         7     1  nparams
         8     2  nin      input descriptors
        10     2  nw       write descriptors
        12     4  errno    the call's return value (a WASI errno: <= 0xFFFF)
        16  8*np  params   each as u64 (i32 zero-extended)
           8*nin  inputs   (u32 addr, u32 len) each
            8*nw  writes   (u32 addr, u32 len) each
              ..  bytes    every input's bytes in order, then every write's bytes

An input whose ``len`` has bit 31 set (``DIGEST_BIT``) was stored as its digest:
its bytes are 40 (``u64 length, 32-byte sha256``) and the real length is in
them. An event record has fid 0xFFFF, nparams = nin = nw = errno = flags = 0,
and its bytes are one msgpack array ``[kind, {fields}]`` (see ``events.py``).

Sequence numbers are implicit: one more than the previous syscall record of
the same process (``start`` resets to 0, ``ctx`` sets it).
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

HEADER: Final = struct.Struct("<IHBBHHI")
HEADER_SIZE: Final = HEADER.size
DESC: Final = struct.Struct("<II")
U32: Final = struct.Struct("<I")
U64: Final = struct.Struct("<Q")
DIGEST: Final = struct.Struct("<Q32s")
DIGEST_BIT: Final = 0x8000_0000
EVENT_FID: Final = 0xFFFF
FLAG_STDOUT: Final = 1
FLAG_STDERR: Final = 2
KNOWN_FLAGS: Final = FLAG_STDOUT | FLAG_STDERR
MAX_ERRNO: Final = 0xFFFF
MAX_PARAMS: Final = 32
MAX_FUNCTIONS: Final = EVENT_FID
ADDRESS_LIMIT: Final = 1 << 32
"""wasm32: every byte a call reads or writes lies below 4 GiB."""


@dataclass(frozen=True, slots=True)
class InputDigest:
    """Stands for an input buffer stored as its hash instead of its bytes.

    Inputs (bytes the guest passed to the host) longer than the writer's
    ``input_hash_threshold`` are replaced by their length and SHA-256: replay
    only needs to check the guest passed the same bytes again, and the guest
    regenerates them itself. Bytes that reached stdout/stderr are always kept.
    """

    length: int
    sha256: bytes

    def __len__(self) -> int:
        return self.length

    @classmethod
    def of(cls, data: bytes) -> InputDigest:
        return cls(len(data), hashlib.sha256(data).digest())

    def matches(self, data: bytes) -> bool:
        """True if ``data`` is the buffer this digest was made from."""
        return len(data) == self.length and hashlib.sha256(data).digest() == self.sha256

    def wire(self) -> bytes:
        return DIGEST.pack(self.length, self.sha256)


Input = bytes | InputDigest


@dataclass(slots=True)
class Call:
    """One host call, in call order: the one call type every layer shares.

    What the guest asked: ``params`` (the raw wasm arguments, i32 as u32, i64 as
    u64) and ``inputs`` (every ``(address, bytes)`` range the host read from
    guest memory, in read order). What it observed: ``errno`` and ``writes``
    (every ``(address, bytes)`` the host wrote into guest memory, in order).
    ``stdio`` is 1 or 2 when the call's bytes reached stdout or stderr.
    Treat it as read-only (not frozen: frozen dataclasses cost ~4x to build).
    """

    seq: int
    module: str
    name: str
    params: tuple[int, ...]
    inputs: tuple[tuple[int, Input], ...]
    errno: int
    writes: tuple[tuple[int, bytes], ...]
    pid: int = 0
    stdio: int = 0

    @property
    def input_data(self) -> list[Input]:
        """The inputs' bytes (or digests), without their addresses."""
        return [data for _, data in self.inputs]


def encode_call(fid: int, params: Sequence[int], inputs: Sequence[tuple[int, Input]],
                errno: int, writes: Sequence[tuple[int, bytes]], flags: int = 0) -> bytes:
    """The reference encoder of a syscall record (generated recorders must
    produce the same bytes; tests compare them). Refuses (``ValueError``) what
    ``parse_call`` would refuse, so a journal it wrote always reads back."""
    np_, nin, nw = len(params), len(inputs), len(writes)
    if np_ > MAX_PARAMS or not 0 <= errno <= MAX_ERRNO or flags & ~KNOWN_FLAGS \
            or flags == KNOWN_FLAGS:
        raise ValueError(f"a call with {np_} params, errno {errno}, flags {flags} "
                         "has no record")
    descs: list[bytes] = []
    blobs: list[bytes] = []
    try:
        for k, (addr, data) in enumerate(inputs):
            if isinstance(data, InputDigest):
                _check_range(f"input {k}", addr, data.length)
                descs.append(DESC.pack(addr, (data.length & (DIGEST_BIT - 1)) | DIGEST_BIT))
                blobs.append(data.wire())
            else:
                _check_range(f"input {k}", addr, len(data))
                descs.append(DESC.pack(addr, len(data)))
                blobs.append(bytes(data))
        for k, (addr, data) in enumerate(writes):
            _check_range(f"write {k}", addr, len(data))
            descs.append(DESC.pack(addr, len(data)))
            blobs.append(bytes(data))
        body = struct.pack(f"<{np_}Q", *params) + b"".join(descs) + b"".join(blobs)
        return HEADER.pack(HEADER_SIZE + len(body), fid, flags, np_, nin, nw, errno) + body
    except struct.error as exc:  # a value out of its field's range
        raise ValueError(str(exc)) from None


def encode_event(payload: bytes) -> bytes:
    """An event record around an already-encoded msgpack payload."""
    return HEADER.pack(HEADER_SIZE + len(payload), EVENT_FID, 0, 0, 0, 0, 0) + payload


class RecordError(ValueError):
    """A record that does not follow the layout; ``field`` names what is wrong."""

    def __init__(self, field: str, what: str) -> None:
        self.field = field
        self.what = what
        super().__init__(f"{field} {what}")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One syscall record split into fields (addresses and lengths validated
    against the record and the wasm32 address space, nothing else)."""

    fid: int
    flags: int
    errno: int
    params: tuple[int, ...]
    inputs: tuple[tuple[int, Input], ...]
    writes: tuple[tuple[int, bytes], ...]


def record_size(buf: bytes | bytearray | memoryview, off: int, end: int) -> int:
    """The size of the record at ``off``, checked to fit in ``[off, end)``."""
    if off + HEADER_SIZE > end:
        raise RecordError("header", f"needs {HEADER_SIZE} bytes, {end - off} left in the frame")
    size: int = U32.unpack_from(buf, off)[0]
    if size < HEADER_SIZE or size > end - off:
        raise RecordError("size", f"{size} does not fit ({end - off} bytes left in the frame)")
    return size


def is_event(buf: bytes | bytearray | memoryview, off: int) -> bool:
    fid: int = struct.unpack_from("<H", buf, off + 4)[0]
    return fid == EVENT_FID


def event_payload(buf: bytes | bytearray | memoryview, off: int, size: int) -> bytes:
    """The msgpack bytes of the event record at ``off`` (header fields checked)."""
    _, _fid, flags, np_, nin, nw, errno = HEADER.unpack_from(buf, off)
    if (flags, np_, nin, nw, errno) != (0, 0, 0, 0, 0):
        raise RecordError("event header", "has non-zero call fields")
    return bytes(buf[off + HEADER_SIZE:off + size])


@functools.lru_cache(maxsize=256)
def _fixed(np_: int, nd: int) -> struct.Struct:
    """The params and descriptors of a record shape as one struct."""
    return struct.Struct(f"<{np_}Q{2 * nd}I")


def parse_call(buf: bytes | bytearray | memoryview, off: int, size: int,
               functions: int) -> RawRecord:
    """Split the syscall record at ``off`` (``size`` from ``record_size``).

    ``functions`` is how many function numbers the journal defines. Raises
    ``RecordError`` for anything out of place: a journal is untrusted input.
    """
    _, fid, flags, np_, nin, nw, errno = HEADER.unpack_from(buf, off)
    if fid >= functions:
        raise RecordError("function number", f"{fid} is not defined by the header "
                          f"({functions} functions)")
    if flags & ~KNOWN_FLAGS or flags == KNOWN_FLAGS:
        raise RecordError("flags", f"{flags:#x} are not valid")
    if np_ > MAX_PARAMS:
        raise RecordError("params", f"count {np_} is out of range")
    if errno > MAX_ERRNO:
        raise RecordError("errno", f"{errno} is out of range (a WASI errno is 16 bits)")
    if HEADER_SIZE + 8 * (np_ + nin + nw) > size:
        raise RecordError("size", f"{size} is too small for {np_} params and "
                          f"{nin + nw} descriptors")
    fields = _fixed(np_, nin + nw).unpack_from(buf, off + HEADER_SIZE)
    params = fields[:np_]
    pos = off + HEADER_SIZE + 8 * (np_ + nin + nw)
    end = off + size
    inputs: list[tuple[int, Input]] = []
    writes: list[tuple[int, bytes]] = []
    for k in range(nin + nw):
        addr = fields[np_ + 2 * k]
        length = fields[np_ + 2 * k + 1]
        if k < nin and length & DIGEST_BIT:
            if pos + DIGEST.size > end:
                raise RecordError(f"input {k}", "digest runs past the record")
            real, sha = DIGEST.unpack_from(buf, pos)
            _check_range(f"input {k}", addr, real)
            inputs.append((addr, InputDigest(real, bytes(sha))))
            pos += DIGEST.size
            continue
        if length >= DIGEST_BIT or addr + length > ADDRESS_LIMIT or pos + length > end:
            what = f"input {k}" if k < nin else f"write {k - nin}"
            _check_range(what, addr, length)
            raise RecordError(what, f"of {length} bytes runs past the record")
        (inputs if k < nin else writes).append((addr, bytes(buf[pos:pos + length])))
        pos += length
    if pos != end:
        raise RecordError("size", f"{size} leaves {end - pos} unexplained bytes")
    return RawRecord(fid, flags, errno, params, tuple(inputs), tuple(writes))


def _check_range(what: str, addr: int, length: int) -> None:
    if length >= DIGEST_BIT or addr < 0 or addr + length > ADDRESS_LIMIT:
        raise RecordError(what, f"at {addr:#x}+{length} lies outside a 32-bit memory")


def stdio_of(flags: int) -> int:
    """1 for stdout, 2 for stderr, 0 for neither."""
    return flags & KNOWN_FLAGS


_HEAD_PARAMS: Final = tuple(struct.Struct(f"<IHBBHHI{n}Q") for n in range(MAX_PARAMS + 1))
"""Header and ``n`` params in one pack (one struct per param count)."""
_DESC_PACK: Final = DESC.pack


def append_call(buf: bytearray, fid: int, flags: int, params: Sequence[int], errno: int,
                inputs: Sequence[tuple[int, Input]],
                writes: Sequence[tuple[int, bytes]]) -> None:
    """Append a syscall record to ``buf`` (the recorder's path: no intermediate
    objects beyond the pieces; same bytes as ``encode_call``)."""
    np_ = len(params)
    size = HEADER_SIZE + 8 * np_ + 8 * (len(inputs) + len(writes))
    descs = []
    blobs = []
    for addr, data in inputs:
        if type(data) is bytes:
            descs.append(_DESC_PACK(addr, len(data)))
            blobs.append(data)
            size += len(data)
        else:
            assert isinstance(data, InputDigest)
            descs.append(_DESC_PACK(addr, (data.length & (DIGEST_BIT - 1)) | DIGEST_BIT))
            blobs.append(data.wire())
            size += DIGEST.size
    for addr, data in writes:
        descs.append(_DESC_PACK(addr, len(data)))
        blobs.append(data)
        size += len(data)
    buf += _HEAD_PARAMS[np_].pack(size, fid, flags, np_, len(inputs), len(writes), errno,
                                  *params)
    buf += b"".join(descs)
    buf += b"".join(blobs)
