"""One codec per WASI ABI struct: its layout, and its pack/unpack.

Every path that reads or writes one of these structs (the generated
callbacks, ``dump``, divergence reports, ``--verify``'s field masks, the
debugger) goes through this module, so a layout is written down exactly once
(browser_wasi_shim's ``wasi_defs.ts`` has the same rule).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Iterator
from typing import Any, Final

from wasi_rr.host.kernel.wasi_types import (
    Dirent,
    Event,
    EventType,
    Fdstat,
    Filestat,
    Prestat,
)

IOVEC: Final = struct.Struct("<II")
"""``iovec``/``ciovec``: buffer address, length."""
FDSTAT: Final = struct.Struct("<BxHxxxxQQ")
FILESTAT: Final = struct.Struct("<QQB7xQQQQQ")
PRESTAT: Final = struct.Struct("<B3xI")
DIRENT: Final = struct.Struct("<QQIB3x")
SUBSCRIPTION: Final = struct.Struct("<QB7xIxxxxQQH6x")
"""userdata, tag, clock id / fd, timeout, precision, flags."""
EVENT: Final = struct.Struct("<QHB5xQH6x")
"""userdata, error, type, nbytes, flags."""
OPTION_PID: Final = struct.Struct("<B3xI")
JOIN_STATUS: Final = struct.Struct("<B3xI")

FILESTAT_TIMES: Final = slice(40, 64)
"""Bytes of atim/mtim/ctim inside a packed filestat."""
FILESTAT_DEV_INO: Final = slice(0, 16)
FILESTAT_FILETYPE: Final = 16
FILESTAT_SIZE: Final = slice(32, 40)


class OutKind(enum.Enum):
    """The layout of one out value (``Role.OUT``/``Role.INOUT``)."""

    U8 = "u8"
    U16 = "u16"
    U32 = "u32"
    U64 = "u64"
    FDSTAT = "fdstat"
    FILESTAT = "filestat"
    PRESTAT = "prestat"
    OPTION_PID = "option_pid"
    JOIN_STATUS = "join_status"

    @property
    def layout(self) -> struct.Struct:
        return _LAYOUTS[self]

    @property
    def size(self) -> int:
        return _LAYOUTS[self].size

    @property
    def fmt(self) -> str:
        return _LAYOUTS[self].format

    @property
    def is_int(self) -> bool:
        """A plain integer (the kernel returns an int for it)."""
        return self in (OutKind.U8, OutKind.U16, OutKind.U32, OutKind.U64)


_LAYOUTS: Final[dict[OutKind, struct.Struct]] = {
    OutKind.U8: struct.Struct("<B"),
    OutKind.U16: struct.Struct("<H"),
    OutKind.U32: struct.Struct("<I"),
    OutKind.U64: struct.Struct("<Q"),
    OutKind.FDSTAT: FDSTAT,
    OutKind.FILESTAT: FILESTAT,
    OutKind.PRESTAT: PRESTAT,
    OutKind.OPTION_PID: OPTION_PID,
    OutKind.JOIN_STATUS: JOIN_STATUS,
}


def pack_fdstat(st: Fdstat) -> bytes:
    return FDSTAT.pack(int(st.filetype), int(st.flags), int(st.rights_base),
                       int(st.rights_inheriting))


def pack_filestat(st: Filestat) -> bytes:
    return FILESTAT.pack(st.dev, st.ino, int(st.filetype), st.nlink, st.size,
                         st.atim, st.mtim, st.ctim)


def pack_prestat(pre: Prestat) -> bytes:
    return PRESTAT.pack(int(pre.tag), len(pre.name))


def packer(kind: OutKind) -> Any:
    """``value -> bytes`` for an out value the kernel returns as ``kind``."""
    if kind is OutKind.FDSTAT:
        return pack_fdstat
    if kind is OutKind.FILESTAT:
        return pack_filestat
    if kind is OutKind.PRESTAT:
        return pack_prestat
    return _LAYOUTS[kind].pack


def pack_dirents(entries: Iterable[Dirent], capacity: int) -> bytes:
    """The ``fd_readdir`` buffer: entries back to back, cut at ``capacity``
    (a partly-fitting last entry is truncated, which tells the guest to retry
    with a bigger buffer)."""
    out = bytearray()
    for e in entries:
        out += DIRENT.pack(e.next, e.ino, len(e.name), int(e.filetype))
        out += e.name
        if len(out) >= capacity:
            break
    return bytes(out[:capacity])


def iter_dirents(data: bytes) -> Iterator[tuple[int, int, int, int, bytes]]:
    """``(next, ino, namlen, filetype, name)`` of each entry in a readdir buffer;
    the last name may be shorter than ``namlen`` (a truncated entry). Stops at a
    header that does not fit."""
    pos = 0
    while pos + DIRENT.size <= len(data):
        nxt, ino, namlen, ftype = DIRENT.unpack_from(data, pos)
        start = pos + DIRENT.size
        yield nxt, ino, namlen, ftype, data[start:start + namlen]
        pos = start + namlen


def pack_events(events: Iterable[Event]) -> bytes:
    return b"".join(EVENT.pack(e.userdata, int(e.error), int(e.type), e.nbytes, int(e.flags))
                    for e in events)


def pack_strings(items: list[bytes], ptrs: int, buf: int) -> tuple[bytes, bytes]:
    """``args_get``/``environ_get``: (the pointer array, the NUL-terminated blob)
    for strings laid out from guest address ``buf``."""
    offsets = []
    pos = buf
    for item in items:
        offsets.append(pos)
        pos += len(item) + 1
    return struct.pack(f"<{len(items)}I", *offsets), b"".join(i + b"\0" for i in items)


def unpack_subscriptions(raw: bytes) -> Iterator[tuple[int, int, int, int, int, int]]:
    """Raw subscription fields (no validation): userdata, tag, word, timeout,
    precision, flags. A trailing partial struct is ignored."""
    usable = len(raw) - len(raw) % SUBSCRIPTION.size
    return SUBSCRIPTION.iter_unpack(raw[:usable])


def unpack_events(raw: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    usable = len(raw) - len(raw) % EVENT.size
    return EVENT.iter_unpack(raw[:usable])


def is_clock(tag: int) -> bool:
    return tag == EventType.CLOCK
