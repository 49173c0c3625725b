"""The per-role helpers generated callbacks call (one implementation per role).

Each takes plain values and a ``GuestMemory``; none knows which syscall it
serves. ``environment()`` assembles the names a generated function binds
(``codegen._ENV_NAMES``) for one adapter.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from wasi_rr.host.kernel.wasi_types import (
    ClockId,
    Errno,
    EventType,
    SubclockFlags,
    Subscription,
    WasiError,
)
from wasi_rr.host.table import Signature
from wasi_rr.host.table.structs import (
    EVENT,
    IOVEC,
    SUBSCRIPTION,
    pack_dirents,
    pack_events,
    pack_fdstat,
    pack_filestat,
    pack_prestat,
    pack_strings,
)

from .codegen import valid_values
from .memory import GuestMemory

RIGHTS_MASK: Final = (1 << 30) - 1
"""Rights are capability masks: bits no right is assigned to are ignored
(guests pass "all rights" as ~0), never an error."""
_ERRNO: Final = struct.Struct("<i")
_CLOCKS: Final = frozenset(int(c) for c in ClockId)
_SUBCLOCK_MASK: Final = sum(int(f) for f in SubclockFlags)
_EVENT_TYPES: Final = frozenset(int(t) for t in EventType)

Outs = list[tuple[int, bytes]]


def path_text(raw: bytes) -> str:
    """A path: UTF-8 or ``ILSEQ``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WasiError(Errno.ILSEQ, "path is not UTF-8") from None


def out_iovecs(mem: GuestMemory, array: bytes) -> list[tuple[int, int]]:
    """The output buffers of an iovec array, each checked writable *before* the
    kernel runs (a call that faults consumes no input)."""
    iovs = list(IOVEC.iter_unpack(array))
    for base, length in iovs:
        if base + length > mem.size:
            mem.check(base, length)
    return iovs


def scatter(mem: GuestMemory, iovs: list[tuple[int, int]], data: bytes,
            outs: Outs | None) -> int:
    """Spread ``data`` over the buffers in order (the last may be partial);
    return how many bytes landed."""
    pos = 0
    total = len(data)
    for base, length in iovs:
        if pos >= total:
            break
        if length == 0:
            continue
        chunk = data[pos:pos + length]
        mem.write(base, chunk)
        if outs is not None:
            outs.append((base, chunk))
        pos += len(chunk)
    return pos


def subscriptions(raw: bytes) -> list[Subscription]:
    """Decode and validate ``poll_oneoff``'s subscriptions (``EINVAL`` on bad tags,
    clock ids or flags)."""
    subs = []
    for userdata, tag, word, timeout, precision, flags in SUBSCRIPTION.iter_unpack(raw):
        if tag not in _EVENT_TYPES:
            raise WasiError(Errno.INVAL, f"invalid EventType {tag}")
        kind = EventType(tag)
        if kind is EventType.CLOCK:
            if word not in _CLOCKS:
                raise WasiError(Errno.INVAL, f"invalid ClockId {word}")
            if flags & ~_SUBCLOCK_MASK:
                raise WasiError(Errno.INVAL, f"invalid SubclockFlags {flags:#x}")
            subs.append(Subscription(userdata, kind, clock_id=word, timeout=timeout,
                                     precision=precision, flags=SubclockFlags(flags)))
        else:
            subs.append(Subscription(userdata, kind, fd=word))
    return subs


def collecting_write(mem: GuestMemory) -> Callable[[int, bytes, Outs], None]:
    """``write(addr, data, outs)``: into guest memory, and remembered in ``outs``."""
    mem_write = mem.write

    def write(addr: int, data: bytes, outs: Outs) -> None:
        mem_write(addr, data)
        outs.append((addr, data))
    return write


def environment(sig: Signature, mem: GuestMemory, *, collect: bool, fid: int = -1,
                emit: Any = None, stdio: Any = None, slots_at: Any = None,
                idle_slots: Any = None) -> dict[str, Any]:
    """Every name a generated function of ``sig`` binds (``codegen._bind_env``)."""
    u8, u16, u32, u64 = (struct.Struct(f) for f in ("<B", "<H", "<I", "<Q"))
    env: dict[str, Any] = {
        "SIG": sig, "FID": fid, "UNPACK": sig.raw_struct.unpack_from,
        "WasiError": WasiError, "INVAL": Errno.INVAL, "NAMETOOLONG": Errno.NAMETOOLONG,
        "RIGHTS_MASK": RIGHTS_MASK, "IOVEC_UNPACK": IOVEC.unpack,
        "IOVEC_ITER": IOVEC.iter_unpack, "SUBSCRIPTION_SIZE": SUBSCRIPTION.size,
        "EVENT_SIZE": EVENT.size, "path_text": path_text, "out_iovecs": out_iovecs,
        "scatter": scatter, "subscriptions": subscriptions,
        "write": collecting_write(mem) if collect else mem.write,
        "pack_dirents": pack_dirents, "pack_events": pack_events, "pack_strings": pack_strings,
        "U8_PACK": u8.pack, "U16_PACK": u16.pack, "U32_PACK": u32.pack, "U64_PACK": u64.pack,
        "U8_PACK_INTO": u8.pack_into, "U16_PACK_INTO": u16.pack_into,
        "U32_PACK_INTO": u32.pack_into, "U64_PACK_INTO": u64.pack_into,
        "PACK_FDSTAT": pack_fdstat, "PACK_FILESTAT": pack_filestat,
        "PACK_PRESTAT": pack_prestat, "ERRNO_PACK_INTO": _ERRNO.pack_into,
        "slots_at": slots_at, "idle_slots": idle_slots, "emit": emit,
        "STDIO": stdio if stdio is not None else {},
        "IOVEC_UNPACK_FROM": IOVEC.unpack_from, "IOVEC_PACK": IOVEC.pack,
        "PACK_II": IOVEC.pack, "PACK_I": u32.pack, "PACK_Q": u64.pack, "PACK_H": u16.pack,
        "PACK_B": u8.pack,
    }
    for i in range(16):
        env[f"VALID_{i}"] = None
    env.update(valid_values(sig))
    return env
