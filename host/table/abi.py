"""The one signature table of the WASI boundary, and the record of one call.

Every function the host can offer a guest (``wasi_snapshot_preview1`` plus the
WASIX subset of DESIGN §6) is described here once: its wasm parameter types and
names, its result, and the *role* of each parameter (a file descriptor, a flag
set of a given enum type, a pointer to an input string, to an iovec array, to an
out value of a given struct...). Dispatch in the adapter, ``dump``
pretty-printing and divergence messages all read this table, so they cannot
drift apart.

This module must stay importable without wasmtime: the journal and ``dump`` use
it on machines that only read journals.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Final

from wasi_rr.host.kernel.wasi_types import (
    Advice,
    ClockId,
    Errno,
    EventRwFlags,
    EventType,
    FdFlags,
    Filetype,
    FstFlags,
    LookupFlags,
    OFlags,
    Rights,
    RiFlags,
    RoFlags,
    SdFlags,
    Signal,
    SubclockFlags,
    Whence,
)

PREVIEW1: Final = "wasi_snapshot_preview1"
WASIX: Final = "wasix_32v1"


class WasmType(enum.Enum):
    I32 = "i32"
    I64 = "i64"


class Role(enum.Enum):
    """What a wasm parameter means, beyond its wasm type."""

    FD = "fd"
    """A file descriptor (u32)."""
    VALUE = "value"
    """A plain unsigned integer (size, offset, cookie, timestamp, exit code)."""
    SIGNED = "signed"
    """A signed i64 (``fd_seek``'s offset)."""
    FLAGS = "flags"
    """A bit set; ``Param.type`` is the ``IntFlag`` class used to print it."""
    ENUM = "enum"
    """An enumeration; ``Param.type`` is the ``IntEnum`` class used to print it."""
    IN_STR = "in_str"
    """Pointer to an input byte string (a path); its length is ``Param.length``."""
    IN_IOVS = "in_iovs"
    """Pointer to a ``ciovec`` array (8 bytes each) of input buffers."""
    OUT_IOVS = "out_iovs"
    """Pointer to an ``iovec`` array of output buffers."""
    OUT_BUF = "out_buf"
    """Pointer to an output buffer whose capacity is ``Param.length``."""
    LEN = "len"
    """The length belonging to a pointer parameter (named in that one's ``length``)."""
    OUT = "out"
    """Pointer to one out value of kind ``Param.out``."""
    IN_SUBS = "in_subs"
    """Pointer to ``Param.length`` ``subscription`` structs (48 bytes each)."""
    OUT_EVENTS = "out_events"
    """Pointer to room for ``Param.length`` ``event`` structs (32 bytes each)."""
    OUT_PTR_ARRAY = "out_ptr_array"
    """``args_get``/``environ_get``: room for one u32 pointer per string."""
    OUT_STR_BUF = "out_str_buf"
    """``args_get``/``environ_get``: room for the NUL-terminated strings."""
    INOUT = "inout"
    """Pointer to a value the host reads and then overwrites (WASIX ``proc_join``)."""


class OutKind(enum.Enum):
    """The layout of an out value (``Role.OUT``); value = (size, struct format)."""

    U8 = (1, "<B")
    U16 = (2, "<H")
    U32 = (4, "<I")
    U64 = (8, "<Q")
    FDSTAT = (24, "<BxHxxxxQQ")
    FILESTAT = (64, "<QQB7xQQQQQ")
    PRESTAT = (8, "<B3xI")
    # same layout as PRESTAT: the third element keeps them distinct members
    # (equal enum values would make them aliases of PRESTAT)
    OPTION_PID = (8, "<B3xI", "option_pid")
    JOIN_STATUS = (8, "<B3xI", "join_status")

    @property
    def size(self) -> int:
        return self.value[0]

    @property
    def fmt(self) -> str:
        return self.value[1]


@dataclass(frozen=True, slots=True)
class Param:
    """One wasm parameter of an import."""

    name: str
    wasm: WasmType
    role: Role
    type: type[enum.IntEnum] | type[enum.IntFlag] | None = None
    """Enum/flag class for ``FLAGS``/``ENUM`` roles (pretty-printing)."""
    length: str | None = None
    """For pointer roles: the name of the parameter holding the element count/size."""
    out: OutKind | None = None
    """For ``OUT``/``INOUT``: the layout of the pointed-to value."""


@dataclass(frozen=True, slots=True)
class Signature:
    """One import: ``module::name(params) -> result``."""

    module: str
    name: str
    params: tuple[Param, ...]
    result: WasmType | None = WasmType.I32
    implemented: bool = True
    """False: listed so tools can print it, but the linker leaves it undefined
    (an unknown import) until its machinery exists."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.module, self.name)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def raw_struct(self) -> struct.Struct:
        """Layout of the params inside wasmtime's ``wasmtime_val_raw_t`` array
        (16 bytes per slot, little endian): the adapter unpacks all arguments
        with one call."""
        return _raw_struct(self.params)


def _raw_struct(params: tuple[Param, ...]) -> struct.Struct:
    fmt = "<" + "".join("I12x" if p.wasm is WasmType.I32 else "Q8x" for p in params)
    if not params:
        fmt = "<16x"
    return struct.Struct(fmt)


@dataclass(slots=True)
class SyscallRecord:
    """Everything that crossed the boundary in one call (see docs/architecture.md).

    ``params + inputs`` are what the guest asked; ``errno + writes`` are all it
    can observe of the answer, so a verbatim replay re-applies ``writes`` and
    returns ``errno``.
    """

    seq: int
    module: str
    name: str
    params: tuple[int, ...]
    inputs: list[bytes] = field(default_factory=list)
    errno: int = 0
    writes: list[tuple[int, bytes]] = field(default_factory=list)


# -- the table ---------------------------------------------------------------

_I32 = WasmType.I32
_I64 = WasmType.I64


def _fd(name: str = "fd") -> Param:
    return Param(name, _I32, Role.FD)


def _u32(name: str) -> Param:
    return Param(name, _I32, Role.VALUE)


def _u64(name: str) -> Param:
    return Param(name, _I64, Role.VALUE)


def _flags(name: str, cls: type[enum.IntFlag], wasm: WasmType = _I32) -> Param:
    return Param(name, wasm, Role.FLAGS, type=cls)


def _enum(name: str, cls: type[enum.IntEnum]) -> Param:
    return Param(name, _I32, Role.ENUM, type=cls)


def _out(name: str, kind: OutKind) -> Param:
    return Param(name, _I32, Role.OUT, out=kind)


def _ptr(name: str, role: Role, length: str | None) -> Param:
    return Param(name, _I32, role, length=length)


def _len(name: str) -> Param:
    return Param(name, _I32, Role.LEN)


def _str(name: str) -> tuple[Param, Param]:
    return (_ptr(name, Role.IN_STR, name + "_len"), _len(name + "_len"))


def _sig(name: str, *params: Param | tuple[Param, ...], module: str = PREVIEW1,
         result: WasmType | None = _I32, implemented: bool = True) -> Signature:
    flat: list[Param] = []
    for p in params:
        flat.extend(p if isinstance(p, tuple) else (p,))
    return Signature(module, name, tuple(flat), result, implemented)


_U = OutKind
_SIGNATURE_LIST: Final[tuple[Signature, ...]] = (
    _sig("args_get", _ptr("argv", Role.OUT_PTR_ARRAY, None), _ptr("argv_buf", Role.OUT_STR_BUF, None)),
    _sig("args_sizes_get", _out("argc", _U.U32), _out("argv_buf_size", _U.U32)),
    _sig("environ_get", _ptr("environ", Role.OUT_PTR_ARRAY, None),
         _ptr("environ_buf", Role.OUT_STR_BUF, None)),
    _sig("environ_sizes_get", _out("environc", _U.U32), _out("environ_buf_size", _U.U32)),
    _sig("clock_res_get", _enum("id", ClockId), _out("resolution", _U.U64)),
    _sig("clock_time_get", _enum("id", ClockId), _u64("precision"), _out("time", _U.U64)),
    _sig("fd_advise", _fd(), _u64("offset"), _u64("len"), _enum("advice", Advice)),
    _sig("fd_allocate", _fd(), _u64("offset"), _u64("len")),
    _sig("fd_close", _fd()),
    _sig("fd_datasync", _fd()),
    _sig("fd_fdstat_get", _fd(), _out("stat", _U.FDSTAT)),
    _sig("fd_fdstat_set_flags", _fd(), _flags("flags", FdFlags)),
    _sig("fd_fdstat_set_rights", _fd(), _flags("fs_rights_base", Rights, _I64),
         _flags("fs_rights_inheriting", Rights, _I64)),
    _sig("fd_filestat_get", _fd(), _out("buf", _U.FILESTAT)),
    _sig("fd_filestat_set_size", _fd(), _u64("size")),
    _sig("fd_filestat_set_times", _fd(), _u64("atim"), _u64("mtim"), _flags("fst_flags", FstFlags)),
    _sig("fd_pread", _fd(), _ptr("iovs", Role.OUT_IOVS, "iovs_len"), _len("iovs_len"),
         _u64("offset"), _out("nread", _U.U32)),
    _sig("fd_prestat_get", _fd(), _out("buf", _U.PRESTAT)),
    _sig("fd_prestat_dir_name", _fd(), _ptr("path", Role.OUT_BUF, "path_len"), _len("path_len")),
    _sig("fd_pwrite", _fd(), _ptr("iovs", Role.IN_IOVS, "iovs_len"), _len("iovs_len"),
         _u64("offset"), _out("nwritten", _U.U32)),
    _sig("fd_read", _fd(), _ptr("iovs", Role.OUT_IOVS, "iovs_len"), _len("iovs_len"),
         _out("nread", _U.U32)),
    _sig("fd_readdir", _fd(), _ptr("buf", Role.OUT_BUF, "buf_len"), _len("buf_len"),
         _u64("cookie"), _out("bufused", _U.U32)),
    _sig("fd_renumber", _fd(), _fd("to")),
    _sig("fd_seek", _fd(), Param("offset", _I64, Role.SIGNED), _enum("whence", Whence),
         _out("newoffset", _U.U64)),
    _sig("fd_sync", _fd()),
    _sig("fd_tell", _fd(), _out("offset", _U.U64)),
    _sig("fd_write", _fd(), _ptr("iovs", Role.IN_IOVS, "iovs_len"), _len("iovs_len"),
         _out("nwritten", _U.U32)),
    _sig("path_create_directory", _fd(), _str("path")),
    _sig("path_filestat_get", _fd(), _flags("flags", LookupFlags), _str("path"),
         _out("buf", _U.FILESTAT)),
    _sig("path_filestat_set_times", _fd(), _flags("flags", LookupFlags), _str("path"),
         _u64("atim"), _u64("mtim"), _flags("fst_flags", FstFlags)),
    _sig("path_link", _fd("old_fd"), _flags("old_flags", LookupFlags), _str("old_path"),
         _fd("new_fd"), _str("new_path")),
    _sig("path_open", _fd(), _flags("dirflags", LookupFlags), _str("path"),
         _flags("oflags", OFlags), _flags("fs_rights_base", Rights, _I64),
         _flags("fs_rights_inheriting", Rights, _I64), _flags("fdflags", FdFlags),
         _out("opened_fd", _U.U32)),
    _sig("path_readlink", _fd(), _str("path"), _ptr("buf", Role.OUT_BUF, "buf_len"),
         _len("buf_len"), _out("bufused", _U.U32)),
    _sig("path_remove_directory", _fd(), _str("path")),
    _sig("path_rename", _fd(), _str("old_path"), _fd("new_fd"), _str("new_path")),
    _sig("path_symlink", _str("old_path"), _fd(), _str("new_path")),
    _sig("path_unlink_file", _fd(), _str("path")),
    _sig("poll_oneoff", _ptr("in", Role.IN_SUBS, "nsubscriptions"),
         _ptr("out", Role.OUT_EVENTS, "nsubscriptions"), _len("nsubscriptions"),
         _out("nevents", _U.U32)),
    _sig("proc_exit", _u32("rval"), result=None),
    _sig("proc_raise", _enum("sig", Signal)),
    _sig("sched_yield"),
    _sig("random_get", _ptr("buf", Role.OUT_BUF, "buf_len"), _len("buf_len")),
    _sig("sock_accept", _fd(), _flags("flags", FdFlags), _out("fd_out", _U.U32)),
    _sig("sock_recv", _fd(), _ptr("ri_data", Role.OUT_IOVS, "ri_data_len"), _len("ri_data_len"),
         _flags("ri_flags", RiFlags), _out("ro_datalen", _U.U32), _out("ro_flags", _U.U16)),
    _sig("sock_send", _fd(), _ptr("si_data", Role.IN_IOVS, "si_data_len"), _len("si_data_len"),
         _u32("si_flags"), _out("so_datalen", _U.U32)),
    _sig("sock_shutdown", _fd(), _flags("how", SdFlags)),
    # WASIX subset (DESIGN §6)
    _sig("fd_dup", _fd(), _out("ret_fd", _U.U32), module=WASIX),
    _sig("fd_dup2", _fd(), _u32("min_result_fd"), _u32("cloexec"), _out("ret_fd", _U.U32),
         module=WASIX),
    _sig("fd_pipe", _out("ret_fd0", _U.U32), _out("ret_fd1", _U.U32), module=WASIX),
    # processes: answered by a host.procs.ProcessGroup (fork = asyncify snapshot)
    _sig("proc_fork", _u32("copy_memory"), _out("ret_pid", _U.U32), module=WASIX),
    _sig("proc_join", Param("option_pid", _I32, Role.INOUT, out=_U.OPTION_PID),
         _u32("join_flags"), _out("ret_join_status", _U.JOIN_STATUS), module=WASIX),
    _sig("proc_id", _out("ret_pid", _U.U32), module=WASIX),
    _sig("proc_parent", _u32("pid"), _out("ret_pid", _U.U32), module=WASIX),
)

SIGNATURES: Final[dict[tuple[str, str], Signature]] = {s.key: s for s in _SIGNATURE_LIST}
"""All known imports, keyed by ``(module, name)``."""


def signature(module: str, name: str) -> Signature:
    """The signature of ``module::name``; ``KeyError`` if it is not a known import."""
    return SIGNATURES[(module, name)]


# -- strace-like formatting ----------------------------------------------------

_PREVIEW_BYTES: Final = 48


def _bytes_repr(data: bytes, limit: int = _PREVIEW_BYTES) -> str:
    if len(data) <= limit:
        return _pybytes(data)
    return f"{_pybytes(data[:limit])}...({len(data)} bytes)"


def _pybytes(data: bytes) -> str:
    """``b"..."`` with double quotes, as strace users expect."""
    body = repr(data)[2:-1]
    if repr(data)[1] == "'":
        body = body.replace('"', '\\"').replace("\\'", "'")
    return f'b"{body}"'


def flag_names(cls: type[enum.IntFlag], value: int) -> str:
    """``OFlags, 9 -> "CREAT|TRUNC"``; unknown bits are kept as hex, 0 is ``0``."""
    if value == 0:
        return "0"
    names: list[str] = []
    rest = value
    for member in cls:
        if member.value and value & member.value == member.value:
            names.append(member.name or hex(member.value))
            rest &= ~member.value
    if rest:
        names.append(hex(rest))
    return "|".join(names)


def enum_name(cls: type[enum.IntEnum], value: int) -> str:
    try:
        return cls(value).name
    except ValueError:
        return str(value)


def errno_name(value: int) -> str:
    try:
        return Errno(value).name
    except ValueError:
        return f"errno({value})"


def format_params(sig: Signature, params: tuple[int, ...], inputs: list[bytes]) -> str:
    """The ``name(args)`` half of a call line: what the guest asked."""
    values = dict(zip(sig.param_names, params))
    inputs_left = list(inputs)
    consumed_lengths = {p.length for p in sig.params
                        if p.role in (Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS)}
    parts: list[str] = []
    for p in sig.params:
        v = values.get(p.name, 0)
        text: str | None
        match p.role:
            case Role.FD | Role.VALUE:
                text = str(v)
            case Role.SIGNED:
                text = str(v - (1 << 64) if v >= 1 << 63 else v)
            case Role.FLAGS:
                assert p.type is not None
                text = (f"{v:#x}" if v.bit_count() > 4
                        else flag_names(p.type, v))  # type: ignore[arg-type]
            case Role.ENUM:
                assert p.type is not None
                text = enum_name(p.type, v)  # type: ignore[arg-type]
            case Role.IN_STR:
                text = _bytes_repr(inputs_left.pop(0)) if inputs_left else f"{v:#x}"
            case Role.IN_IOVS:
                text = _format_in_iovs(inputs_left, values.get(p.length or "", 0), v)
            case Role.IN_SUBS:
                text = _format_subscriptions(inputs_left.pop(0)) if inputs_left else f"{v:#x}"
            case Role.OUT_EVENTS:
                text = None  # shown with the results
            case Role.OUT_IOVS:
                text = _format_out_iovs(inputs_left, v)
            case Role.INOUT:
                if inputs_left:
                    inputs_left.pop(0)
                text = f"{v:#x}"
            case Role.OUT:
                text = None  # shown with the results
            case Role.LEN:
                text = None if p.name in consumed_lengths else str(v)
            case _:
                text = f"{v:#x}"
        if text is not None:
            parts.append(f"{p.name}={text}")
    return f"{sig.name}({', '.join(parts)})"


def _format_in_iovs(inputs_left: list[bytes], count: int, ptr: int) -> str:
    if not inputs_left:
        return f"{ptr:#x}"
    array = inputs_left.pop(0)
    n = len(array) // 8
    bufs = [inputs_left.pop(0) for _ in range(min(n, len(inputs_left)))]
    return "[" + ", ".join(_bytes_repr(b) for b in bufs) + "]"


_SUBSCRIPTION = struct.Struct("<QB7xIxxxxQQH6x")
_EVENT = struct.Struct("<QHB5xQH6x")


def _format_subscriptions(raw: bytes) -> str:
    items = []
    for userdata, tag, word, timeout, precision, flags in _SUBSCRIPTION.iter_unpack(
            raw[:len(raw) - len(raw) % _SUBSCRIPTION.size]):
        if tag == EventType.CLOCK:
            items.append(f"clock(userdata={userdata}, id={enum_name(ClockId, word)}, "
                         f"timeout={timeout}, precision={precision}, "
                         f"flags={flag_names(SubclockFlags, flags)})")
        else:
            items.append(f"{enum_name(EventType, tag).lower()}(userdata={userdata}, fd={word})")
    return "[" + ", ".join(items) + "]"


def _format_events(raw: bytes) -> str:
    items = []
    for userdata, error, tag, nbytes, flags in _EVENT.iter_unpack(
            raw[:len(raw) - len(raw) % _EVENT.size]):
        text = f"{enum_name(EventType, tag).lower()}(userdata={userdata}, error={errno_name(error)}"
        if tag != EventType.CLOCK:
            text += f", nbytes={nbytes}, flags={flag_names(EventRwFlags, flags)}"
        items.append(text + ")")
    return "[" + ", ".join(items) + "]"


_DIRENT = struct.Struct("<QQIB3x")


def _format_dirents(data: bytes) -> str:
    items = []
    pos = 0
    while pos + _DIRENT.size <= len(data):
        cookie, ino, namlen, ftype = _DIRENT.unpack_from(data, pos)
        name = data[pos + _DIRENT.size:pos + _DIRENT.size + namlen]
        truncated = "..." if len(name) < namlen else ""
        items.append(f"({_pybytes(name)}{truncated}, ino={ino}, {enum_name(Filetype, ftype)}, "
                     f"next={cookie})")
        pos += _DIRENT.size + namlen
    if pos < len(data):
        items.append(f"<{len(data) - pos} bytes of a truncated entry>")
    return "[" + ", ".join(items) + "]"


def _format_out_iovs(inputs_left: list[bytes], ptr: int) -> str:
    if not inputs_left:
        return f"{ptr:#x}"
    array = inputs_left.pop(0)
    lengths = [struct.unpack_from("<I", array, 8 * i + 4)[0] for i in range(len(array) // 8)]
    return f"[{len(lengths)} bufs, {sum(lengths)} bytes]"


def format_results(sig: Signature, params: tuple[int, ...], errno: int,
                   writes: list[tuple[int, bytes]]) -> str:
    """The ``= ERRNO {outs}`` half of a call line: what the guest observed."""
    values = dict(zip(sig.param_names, params))
    by_addr = dict(writes)
    outs: list[str] = []
    claimed: set[int] = set()
    for p in sig.params:
        if p.role in (Role.OUT, Role.INOUT) and p.out is not None:
            addr = values.get(p.name, 0)
            data = by_addr.get(addr)
            if data is not None and len(data) == p.out.size:
                claimed.add(addr)
                outs.append(f"{p.name}={_format_out(p.out, data)}")
        elif p.role in (Role.OUT_EVENTS, Role.OUT_STR_BUF, Role.OUT_PTR_ARRAY, Role.OUT_BUF):
            addr = values.get(p.name, 0)
            data = by_addr.get(addr)
            if data is None:
                continue
            claimed.add(addr)
            if p.role is Role.OUT_EVENTS:
                outs.append(f"events={_format_events(data)}")
            elif p.role is Role.OUT_STR_BUF:
                items = data.split(b"\0")[:-1] if data.endswith(b"\0") else [data]
                outs.append(f"{p.name}=[{', '.join(_bytes_repr(i) for i in items)}]")
            elif p.role is Role.OUT_BUF and sig.name == "fd_readdir":
                outs.append(f"{p.name}={_format_dirents(data)}")
            elif p.role is Role.OUT_BUF:
                outs.append(f"{p.name}={_bytes_repr(data)}")
            # OUT_PTR_ARRAY: guest addresses of the strings, noise in a trace
    data_writes = [d for a, d in writes if a not in claimed]
    if data_writes:
        outs.append(f"data={_bytes_repr(b''.join(data_writes))}")
    tail = f" {{{', '.join(outs)}}}" if outs else ""
    return f"= {errno_name(errno)}{tail}"


def _format_out(kind: OutKind, data: bytes) -> str:
    fields = struct.unpack(kind.fmt, data)
    match kind:
        case OutKind.FDSTAT:
            ft, flags, base, inh = fields
            return (f"{{filetype={enum_name(Filetype, ft)}, flags={flag_names(FdFlags, flags)}, "
                    f"rights_base={base:#x}, rights_inheriting={inh:#x}}}")
        case OutKind.FILESTAT:
            dev, ino, ft, nlink, size, atim, mtim, ctim = fields
            return (f"{{dev={dev}, ino={ino}, filetype={enum_name(Filetype, ft)}, nlink={nlink}, "
                    f"size={size}, atim={atim}, mtim={mtim}, ctim={ctim}}}")
        case OutKind.PRESTAT:
            return f"{{tag={fields[0]}, name_len={fields[1]}}}"
        case OutKind.OPTION_PID:
            return f"{{pid={fields[1]}}}" if fields[0] else "{none}"
        case OutKind.JOIN_STATUS:
            tag, code = fields
            return {0: "{nothing}", 1: f"{{exit_normal={code}}}", 2: f"{{exit_signal={code}}}",
                    3: f"{{stopped={code}}}"}.get(tag, f"{{tag={tag}, value={code}}}")
        case _:
            return ", ".join(str(f) for f in fields)


def format_call(record: SyscallRecord) -> str:
    """One strace-like line, e.g.
    ``fd_write(fd=1, iovs=[b"hi\\n"]) = SUCCESS {nwritten=3}``."""
    sig = SIGNATURES.get((record.module, record.name))
    if sig is None:
        return (f"{record.module}::{record.name}{record.params} = "
                f"{errno_name(record.errno)}")
    return (f"{format_params(sig, record.params, record.inputs)} "
            f"{format_results(sig, record.params, record.errno, record.writes)}")


# Re-exported for the formatter's users so they need only this module.
__all__ = [
    "PREVIEW1", "WASIX", "WasmType", "Role", "OutKind", "Param", "Signature", "SyscallRecord",
    "SIGNATURES", "signature", "format_call", "format_params", "format_results",
    "flag_names", "enum_name", "errno_name",
]
