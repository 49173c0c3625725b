"""Per-syscall argument decoding and result encoding.

Every implemented import is split in two halves, and the split is the replay
seam:

- ``decode(mem, params) -> decoded``: everything the guest *asks*. Reads every
  input region from guest memory (strings, iovec arrays, input buffers,
  subscriptions), validates enums/flags and checks every output region is
  writable. It has no side effect outside guest-memory reads, so a call that
  faults (``EFAULT``) never reaches the kernel and consumes no input.
- ``execute(kernel, mem, params, decoded) -> errno``: the kernel call and the
  encoding of its answer into guest memory.

The live path runs both; a verbatim replay runs ``decode`` only (to obtain the
same ``inputs`` the recorder saw) and substitutes ``execute`` with "apply the
recorded writes, return the recorded errno".

Read order matters: it defines ``SyscallRecord.inputs`` and must follow the
parameter order of ``abi.SIGNATURES`` (``abi.format_params`` relies on it).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from wasi_rr.host.boundary.memory import U16, U32, U64, GuestMemory
from wasi_rr.host.kernel.wasi_types import (
    Advice,
    ClockId,
    Dirent,
    Errno,
    Event,
    EventType,
    FdFlags,
    Fdstat,
    Filestat,
    FstFlags,
    LookupFlags,
    OFlags,
    Prestat,
    ProcExit,
    RiFlags,
    Rights,
    SdFlags,
    Signal,
    SubclockFlags,
    Subscription,
    WasiError,
    Whence,
)

Params = tuple[int, ...]
Decoded = tuple[Any, ...]
Decode = Callable[[GuestMemory, Params], Decoded]
Execute = Callable[[Any, GuestMemory, Params, Decoded], int]

_OK: Final = 0
_NONE: Final[Decoded] = ()

FDSTAT: Final = struct.Struct("<BxHxxxxQQ")
FILESTAT: Final = struct.Struct("<QQB7xQQQQQ")
PRESTAT: Final = struct.Struct("<B3xI")
DIRENT: Final = struct.Struct("<QQIB3x")
SUBSCRIPTION: Final = struct.Struct("<QB7xIxxxxQQH6x")
EVENT: Final = struct.Struct("<QHB5xQH6x")
_U32_PACK_INTO: Final = U32.pack_into
_U64_PACK_INTO: Final = U64.pack_into


Fused = Callable[[Any, GuestMemory, Params], int]


class Handler(NamedTuple):
    decode: Decode
    execute: Execute
    fused: Fused | None = None
    """Optional ``decode`` + ``execute`` in one function for the unobserved fast
    path of the hottest calls; must behave exactly like ``execute(decode(...))``
    (the adapter tests run every scenario through both paths)."""


# Decoded flags and enums are handed to the kernel as plain ints (validated
# here): IntFlag/IntEnum arithmetic costs ~0.4 us per operation in the kernel's
# hot paths, and the kernel contract speaks in ints anyway.

def _enum(cls: type[enum.IntEnum], value: int) -> int:
    if value not in cls._value2member_map_:
        raise WasiError(Errno.INVAL, f"invalid {cls.__name__} {value}")
    return value


def _all_bits(cls: type[enum.IntFlag]) -> int:
    bits = 0
    for member in cls:
        bits |= member.value
    return bits


_FLAG_MASKS: Final[dict[type[enum.IntFlag], int]] = {
    cls: _all_bits(cls)
    for cls in (FdFlags, FstFlags, LookupFlags, OFlags, RiFlags, SdFlags, SubclockFlags)
}


def _flags(cls: type[enum.IntFlag], value: int) -> int:
    if value & ~_FLAG_MASKS[cls]:
        raise WasiError(Errno.INVAL, f"invalid {cls.__name__} bits {value:#x}")
    return value


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _none(mem: GuestMemory, p: Params) -> Decoded:
    return _NONE


def _check_out(size: int, index: int) -> Decode:
    """A decoder for functions whose only pointer is one out value at ``p[index]``."""
    def decode(mem: GuestMemory, p: Params) -> Decoded:
        ptr = p[index]
        if ptr + size > mem.size:
            mem.check(ptr, size)
        return _NONE
    return decode


# -- args / environ --------------------------------------------------------------

def _encode_strings(items: list[bytes], mem: GuestMemory, ptrs: int, buf: int) -> int:
    blob = b"".join(item + b"\0" for item in items)
    mem.check(ptrs, 4 * len(items))
    mem.check(buf, len(blob))
    offsets = []
    pos = buf
    for item in items:
        offsets.append(pos)
        pos += len(item) + 1
    if items:
        mem.write(ptrs, struct.pack(f"<{len(items)}I", *offsets))
    if blob:
        mem.write(buf, blob)
    return _OK


def _sizes(items: list[bytes], mem: GuestMemory, p: Params) -> int:
    mem.put_u32(p[0], len(items))
    mem.put_u32(p[1], sum(len(i) + 1 for i in items))
    return _OK


def _args_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    return _encode_strings(k.args_get(), mem, p[0], p[1])


def _args_sizes_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    return _sizes(k.args_get(), mem, p)


def _environ_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    return _encode_strings(k.environ_get(), mem, p[0], p[1])


def _environ_sizes_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    return _sizes(k.environ_get(), mem, p)


def _decode_two_u32_outs(mem: GuestMemory, p: Params) -> Decoded:
    mem.check(p[0], 4)
    mem.check(p[1], 4)
    return _NONE


# -- clocks -----------------------------------------------------------------------

def _decode_clock_res(mem: GuestMemory, p: Params) -> Decoded:
    mem.check(p[1], 8)
    return (_enum(ClockId, p[0]),)


def _clock_res_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[1], U64, k.clock_res_get(d[0]))
    return _OK


def _decode_clock_time(mem: GuestMemory, p: Params) -> Decoded:
    ptr = p[2]
    if ptr + 8 > mem.size:
        mem.check(ptr, 8)
    clock = p[0]
    if clock > 3:
        raise WasiError(Errno.INVAL, f"invalid ClockId {clock}")
    return _NONE


def _clock_time_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[2], U64, k.clock_time_get(p[0], p[1]))
    return _OK


def _clock_time_get_fused(k: Any, mem: GuestMemory, p: Params) -> int:
    clock, precision, ptr = p
    if ptr + 8 > mem.size:
        mem.check(ptr, 8)
    if clock > 3:
        raise WasiError(Errno.INVAL, f"invalid ClockId {clock}")
    _U64_PACK_INTO(mem.view, ptr, k.clock_time_get(clock, precision))
    return _OK


# -- fd_* without memory ------------------------------------------------------------

def _decode_advise(mem: GuestMemory, p: Params) -> Decoded:
    return (_enum(Advice, p[3]),)


def _fd_advise(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_advise(p[0], p[1], p[2], d[0])
    return _OK


def _fd_allocate(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_allocate(p[0], p[1], p[2])
    return _OK


def _fd_close(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_close(p[0])
    return _OK


def _fd_datasync(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_datasync(p[0])
    return _OK


def _fd_sync(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_sync(p[0])
    return _OK


def _decode_set_flags(mem: GuestMemory, p: Params) -> Decoded:
    return (_flags(FdFlags, p[1]),)


def _fd_fdstat_set_flags(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_fdstat_set_flags(p[0], d[0])
    return _OK


_RIGHTS_MASK: Final = (1 << 30) - 1


def _rights(value: int) -> int:
    """Rights are capability masks: bits no right is assigned to are ignored
    (guests pass "all rights" as ~0), never an error."""
    return value & _RIGHTS_MASK


def _decode_set_rights(mem: GuestMemory, p: Params) -> Decoded:
    return (_rights(p[1]), _rights(p[2]))


def _fd_fdstat_set_rights(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_fdstat_set_rights(p[0], d[0], d[1])
    return _OK


def _fd_filestat_set_size(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_filestat_set_size(p[0], p[1])
    return _OK


def _decode_fst(mem: GuestMemory, p: Params) -> Decoded:
    return (_flags(FstFlags, p[3]),)


def _fd_filestat_set_times(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_filestat_set_times(p[0], p[1], p[2], d[0])
    return _OK


def _fd_renumber(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.fd_renumber(p[0], p[1])
    return _OK


# -- fd_* with out structs -----------------------------------------------------------

def _put_fdstat(mem: GuestMemory, ptr: int, st: Fdstat) -> None:
    mem.put(ptr, FDSTAT, int(st.filetype), int(st.flags), int(st.rights_base),
            int(st.rights_inheriting))


def _put_filestat(mem: GuestMemory, ptr: int, st: Filestat) -> None:
    mem.put(ptr, FILESTAT, st.dev, st.ino, int(st.filetype), st.nlink, st.size,
            st.atim, st.mtim, st.ctim)


def _fd_fdstat_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    _put_fdstat(mem, p[1], k.fd_fdstat_get(p[0]))
    return _OK


def _fd_filestat_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    _put_filestat(mem, p[1], k.fd_filestat_get(p[0]))
    return _OK


def _fd_prestat_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    pre: Prestat = k.fd_prestat_get(p[0])
    mem.put(p[1], PRESTAT, int(pre.tag), len(pre.name))
    return _OK


def _decode_out_buf(ptr_index: int, len_index: int) -> Decode:
    def decode(mem: GuestMemory, p: Params) -> Decoded:
        mem.check(p[ptr_index], p[len_index])
        return _NONE
    return decode


def _fd_prestat_dir_name(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    name: bytes = k.fd_prestat_dir_name(p[0])
    if len(name) > p[2]:
        raise WasiError(Errno.NAMETOOLONG, "buffer shorter than the preopen name")
    mem.write(p[1], name)
    return _OK


def _decode_seek(mem: GuestMemory, p: Params) -> Decoded:
    mem.check(p[3], 8)
    return (_signed64(p[1]), _enum(Whence, p[2]))


def _fd_seek(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[3], U64, k.fd_seek(p[0], d[0], d[1]))
    return _OK


def _fd_tell(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[1], U64, k.fd_tell(p[0]))
    return _OK


# -- data transfer --------------------------------------------------------------------

def _decode_write(out_index: int) -> Decode:
    def decode(mem: GuestMemory, p: Params) -> Decoded:
        data = mem.read_ciovecs(p[1], p[2])
        ptr = p[out_index]
        if ptr + 4 > mem.size:
            mem.check(ptr, 4)
        return (data,)
    return decode


def _fd_write(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[3], U32, k.fd_write(p[0], d[0]))
    return _OK


def _fd_write_fused(k: Any, mem: GuestMemory, p: Params) -> int:
    fd, iovs, count, out = p
    data = mem.read_ciovecs(iovs, count)
    if out + 4 > mem.size:
        mem.check(out, 4)
    _U32_PACK_INTO(mem.view, out, k.fd_write(fd, data))
    return _OK


def _fd_pwrite(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[4], U32, k.fd_pwrite(p[0], d[0], p[3]))
    return _OK


def _decode_read(out_index: int) -> Decode:
    def decode(mem: GuestMemory, p: Params) -> Decoded:
        iovs = mem.read_iovecs(p[1], p[2])
        ptr = p[out_index]
        if ptr + 4 > mem.size:
            mem.check(ptr, 4)
        return (iovs, sum(length for _, length in iovs))
    return decode


def _fd_read(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    data: bytes = k.fd_read(p[0], d[1])
    mem.scatter(d[0], data[:d[1]])
    mem.put(p[3], U32, min(len(data), d[1]))
    return _OK


def _fd_read_fused(k: Any, mem: GuestMemory, p: Params) -> int:
    fd, iovs_ptr, count, out = p
    iovs = mem.read_iovecs(iovs_ptr, count)
    if out + 4 > mem.size:
        mem.check(out, 4)
    if count == 1:
        size = iovs[0][1]
        data: bytes = k.fd_read(fd, size)[:size]
        if data:
            mem.write(iovs[0][0], data)
    else:
        size = sum(length for _, length in iovs)
        data = k.fd_read(fd, size)[:size]
        mem.scatter(iovs, data)
    _U32_PACK_INTO(mem.view, out, len(data))
    return _OK


def _fd_pread(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    data: bytes = k.fd_pread(p[0], d[1], p[3])
    mem.scatter(d[0], data[:d[1]])
    mem.put(p[4], U32, min(len(data), d[1]))
    return _OK


def _decode_readdir(mem: GuestMemory, p: Params) -> Decoded:
    mem.check(p[1], p[2])
    mem.check(p[4], 4)
    return _NONE


def _fd_readdir(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    capacity = p[2]
    out = bytearray()
    for entry in k.fd_readdir(p[0], p[3]):
        e: Dirent = entry
        out += DIRENT.pack(e.next, e.ino, len(e.name), int(e.filetype))
        out += e.name
        if len(out) >= capacity:
            break
    data = bytes(out[:capacity])
    if data:
        mem.write(p[1], data)
    mem.put(p[4], U32, len(data))
    return _OK


def _random_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    data: bytes = k.random_get(p[1])
    if len(data) != p[1]:
        raise RuntimeError(f"random source returned {len(data)} bytes, wanted {p[1]}")
    if data:
        mem.write(p[0], data)
    return _OK


# -- paths ----------------------------------------------------------------------------

def _decode_path_at(ptr_index: int) -> Decode:
    """Decoder for ``(fd, path, path_len)``-style calls without outputs."""
    def decode(mem: GuestMemory, p: Params) -> Decoded:
        return (mem.read_str(p[ptr_index], p[ptr_index + 1]),)
    return decode


def _path_create_directory(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.path_create_directory(p[0], d[0])
    return _OK


def _path_remove_directory(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.path_remove_directory(p[0], d[0])
    return _OK


def _path_unlink_file(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.path_unlink_file(p[0], d[0])
    return _OK


def _decode_path_filestat_get(mem: GuestMemory, p: Params) -> Decoded:
    flags = _flags(LookupFlags, p[1])
    path = mem.read_str(p[2], p[3])
    mem.check(p[4], 64)
    return (flags, path)


def _path_filestat_get(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    _put_filestat(mem, p[4], k.path_filestat_get(p[0], d[0], d[1]))
    return _OK


def _decode_path_set_times(mem: GuestMemory, p: Params) -> Decoded:
    flags = _flags(LookupFlags, p[1])
    path = mem.read_str(p[2], p[3])
    return (flags, path, _flags(FstFlags, p[6]))


def _path_filestat_set_times(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.path_filestat_set_times(p[0], d[0], d[1], p[4], p[5], d[2])
    return _OK


def _decode_path_link(mem: GuestMemory, p: Params) -> Decoded:
    flags = _flags(LookupFlags, p[1])
    old = mem.read_str(p[2], p[3])
    new = mem.read_str(p[5], p[6])
    return (flags, old, new)


def _path_link(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.path_link(p[0], d[0], d[1], p[4], d[2])
    return _OK


def _decode_path_open(mem: GuestMemory, p: Params) -> Decoded:
    dirflags = _flags(LookupFlags, p[1])
    path = mem.read_str(p[2], p[3])
    oflags = _flags(OFlags, p[4])
    base = _rights(p[5])
    inheriting = _rights(p[6])
    fdflags = _flags(FdFlags, p[7])
    mem.check(p[8], 4)
    return (dirflags, path, oflags, base, inheriting, fdflags)


def _path_open(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[8], U32, k.path_open(p[0], d[0], d[1], d[2], d[3], d[4], d[5]))
    return _OK


def _decode_readlink(mem: GuestMemory, p: Params) -> Decoded:
    path = mem.read_str(p[1], p[2])
    mem.check(p[3], p[4])
    mem.check(p[5], 4)
    return (path,)


def _path_readlink(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    target: bytes = k.path_readlink(p[0], d[0])
    data = target[:p[4]]
    if data:
        mem.write(p[3], data)
    mem.put(p[5], U32, len(data))
    return _OK


def _decode_rename(mem: GuestMemory, p: Params) -> Decoded:
    return (mem.read_str(p[1], p[2]), mem.read_str(p[4], p[5]))


def _path_rename(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.path_rename(p[0], d[0], p[3], d[1])
    return _OK


def _decode_symlink(mem: GuestMemory, p: Params) -> Decoded:
    return (mem.read_str(p[0], p[1]), mem.read_str(p[3], p[4]))


def _path_symlink(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.path_symlink(d[0], p[2], d[1])
    return _OK


# -- poll / proc / sched ------------------------------------------------------------------

def _decode_poll(mem: GuestMemory, p: Params) -> Decoded:
    count = p[2]
    if count == 0:
        raise WasiError(Errno.INVAL, "poll_oneoff with no subscriptions")
    raw = mem.read(p[0], SUBSCRIPTION.size * count)
    subs = []
    for userdata, tag, word, timeout, precision, flags in SUBSCRIPTION.iter_unpack(raw):
        kind = EventType(_enum(EventType, tag))
        if kind is EventType.CLOCK:
            subs.append(Subscription(userdata, kind, clock_id=_enum(ClockId, word),
                                     timeout=timeout, precision=precision,
                                     flags=SubclockFlags(_flags(SubclockFlags, flags))))
        else:
            subs.append(Subscription(userdata, kind, fd=word))
    mem.check(p[1], EVENT.size * count)
    mem.check(p[3], 4)
    return (subs,)


def _poll_oneoff(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    events: list[Event] = list(k.poll_oneoff(d[0]))
    if len(events) > p[2]:
        raise RuntimeError(f"kernel returned {len(events)} events for {p[2]} subscriptions")
    if events:
        blob = b"".join(EVENT.pack(e.userdata, int(e.error), int(e.type), e.nbytes, int(e.flags))
                        for e in events)
        mem.write(p[1], blob)
    mem.put(p[3], U32, len(events))
    return _OK


def _proc_exit(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.proc_exit(p[0])
    raise ProcExit(p[0])  # a kernel that returns still must not resume the guest


def _decode_raise(mem: GuestMemory, p: Params) -> Decoded:
    return (_enum(Signal, p[0]),)


def _proc_raise(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.proc_raise(d[0])
    return _OK


def _sched_yield(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.sched_yield()
    return _OK


# -- sockets ---------------------------------------------------------------------------------

def _decode_accept(mem: GuestMemory, p: Params) -> Decoded:
    flags = _flags(FdFlags, p[1])
    mem.check(p[2], 4)
    return (flags,)


def _sock_accept(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[2], U32, k.sock_accept(p[0], d[0]))
    return _OK


def _decode_recv(mem: GuestMemory, p: Params) -> Decoded:
    iovs = mem.read_iovecs(p[1], p[2])
    flags = _flags(RiFlags, p[3])
    mem.check(p[4], 4)
    mem.check(p[5], 2)
    return (iovs, sum(length for _, length in iovs), flags)


def _sock_recv(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    data, roflags = k.sock_recv(p[0], d[1], d[2])
    data = data[:d[1]]
    mem.scatter(d[0], data)
    mem.put(p[4], U32, len(data))
    mem.put(p[5], U16, int(roflags))
    return _OK


def _sock_send(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[4], U32, k.sock_send(p[0], d[0], p[3]))
    return _OK


def _decode_shutdown(mem: GuestMemory, p: Params) -> Decoded:
    return (_flags(SdFlags, p[1]),)


def _sock_shutdown(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    k.sock_shutdown(p[0], d[0])
    return _OK


# -- WASIX ------------------------------------------------------------------------------------

def _fd_dup(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[1], U32, k.fd_dup(p[0]))
    return _OK


def _fd_dup2(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[3], U32, k.fd_dup2(p[0], p[1], bool(p[2])))
    return _OK


def _fd_pipe(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    read_end, write_end = k.fd_pipe()
    mem.put(p[0], U32, read_end)
    mem.put(p[1], U32, write_end)
    return _OK


# WASIX processes: the kernel must be a ``host.procs.ProcKernel`` (a process group
# answers them); a plain kernel has no such methods and the call fails with NOSYS.

OPTION_PID: Final = struct.Struct("<B3xI")
JOIN_STATUS: Final = struct.Struct("<B3xI")
JOIN_STATUS_NOTHING: Final = 0
JOIN_STATUS_EXIT_NORMAL: Final = 1


def _proc_method(k: Any, name: str) -> Callable[..., Any]:
    method = getattr(k, name, None)
    if method is None:
        raise WasiError(Errno.NOSYS, f"{name} needs a process group")
    return method  # type: ignore[no-any-return]


def _proc_fork(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[1], U32, _proc_method(k, "proc_fork")(bool(p[0])))
    return _OK


def _proc_id(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[0], U32, _proc_method(k, "proc_id")())
    return _OK


def _proc_parent(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    mem.put(p[1], U32, _proc_method(k, "proc_parent")(p[0]))
    return _OK


def _decode_join(mem: GuestMemory, p: Params) -> Decoded:
    tag, pid = OPTION_PID.unpack(mem.read(p[0], OPTION_PID.size))
    if tag not in (0, 1):
        raise WasiError(Errno.INVAL, f"invalid OptionPid tag {tag}")
    mem.check(p[2], JOIN_STATUS.size)
    return (pid if tag else None,)


def _proc_join(k: Any, mem: GuestMemory, p: Params, d: Decoded) -> int:
    joined = _proc_method(k, "proc_join")(d[0], p[1])
    if joined is None:
        mem.put(p[2], JOIN_STATUS, JOIN_STATUS_NOTHING, 0)
        return _OK
    pid, status = joined
    mem.put(p[0], OPTION_PID, 1, pid)
    mem.put(p[2], JOIN_STATUS, JOIN_STATUS_EXIT_NORMAL, status & 0xFFFF_FFFF)
    return _OK


H = Handler
PREVIEW1_HANDLERS: Final[dict[str, Handler]] = {
    "args_get": H(_none, _args_get),
    "args_sizes_get": H(_decode_two_u32_outs, _args_sizes_get),
    "environ_get": H(_none, _environ_get),
    "environ_sizes_get": H(_decode_two_u32_outs, _environ_sizes_get),
    "clock_res_get": H(_decode_clock_res, _clock_res_get),
    "clock_time_get": H(_decode_clock_time, _clock_time_get, _clock_time_get_fused),
    "fd_advise": H(_decode_advise, _fd_advise),
    "fd_allocate": H(_none, _fd_allocate),
    "fd_close": H(_none, _fd_close),
    "fd_datasync": H(_none, _fd_datasync),
    "fd_fdstat_get": H(_check_out(24, 1), _fd_fdstat_get),
    "fd_fdstat_set_flags": H(_decode_set_flags, _fd_fdstat_set_flags),
    "fd_fdstat_set_rights": H(_decode_set_rights, _fd_fdstat_set_rights),
    "fd_filestat_get": H(_check_out(64, 1), _fd_filestat_get),
    "fd_filestat_set_size": H(_none, _fd_filestat_set_size),
    "fd_filestat_set_times": H(_decode_fst, _fd_filestat_set_times),
    "fd_pread": H(_decode_read(4), _fd_pread),
    "fd_prestat_get": H(_check_out(8, 1), _fd_prestat_get),
    "fd_prestat_dir_name": H(_decode_out_buf(1, 2), _fd_prestat_dir_name),
    "fd_pwrite": H(_decode_write(4), _fd_pwrite),
    "fd_read": H(_decode_read(3), _fd_read, _fd_read_fused),
    "fd_readdir": H(_decode_readdir, _fd_readdir),
    "fd_renumber": H(_none, _fd_renumber),
    "fd_seek": H(_decode_seek, _fd_seek),
    "fd_sync": H(_none, _fd_sync),
    "fd_tell": H(_check_out(8, 1), _fd_tell),
    "fd_write": H(_decode_write(3), _fd_write, _fd_write_fused),
    "path_create_directory": H(_decode_path_at(1), _path_create_directory),
    "path_filestat_get": H(_decode_path_filestat_get, _path_filestat_get),
    "path_filestat_set_times": H(_decode_path_set_times, _path_filestat_set_times),
    "path_link": H(_decode_path_link, _path_link),
    "path_open": H(_decode_path_open, _path_open),
    "path_readlink": H(_decode_readlink, _path_readlink),
    "path_remove_directory": H(_decode_path_at(1), _path_remove_directory),
    "path_rename": H(_decode_rename, _path_rename),
    "path_symlink": H(_decode_symlink, _path_symlink),
    "path_unlink_file": H(_decode_path_at(1), _path_unlink_file),
    "poll_oneoff": H(_decode_poll, _poll_oneoff),
    "proc_exit": H(_none, _proc_exit),
    "proc_raise": H(_decode_raise, _proc_raise),
    "sched_yield": H(_none, _sched_yield),
    "random_get": H(_decode_out_buf(0, 1), _random_get),
    "sock_accept": H(_decode_accept, _sock_accept),
    "sock_recv": H(_decode_recv, _sock_recv),
    "sock_send": H(_decode_write(4), _sock_send),
    "sock_shutdown": H(_decode_shutdown, _sock_shutdown),
}

WASIX_HANDLERS: Final[dict[str, Handler]] = {
    "fd_dup": H(_check_out(4, 1), _fd_dup),
    "fd_dup2": H(_check_out(4, 3), _fd_dup2),
    "fd_pipe": H(_decode_two_u32_outs, _fd_pipe),
    "proc_fork": H(_check_out(4, 1), _proc_fork),
    "proc_join": H(_decode_join, _proc_join),
    "proc_id": H(_check_out(4, 0), _proc_id),
    "proc_parent": H(_check_out(4, 1), _proc_parent),
}
