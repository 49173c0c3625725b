"""The vocabulary of the signature table: what a wasm parameter *means*.

A WASI import's wasm type says only ``i32``/``i64``; everything the host does
with a call depends on what each parameter stands for: a file descriptor, a
flag set, a pointer to a path, to an iovec array and the buffers it points to,
to an out value of some struct... ``Param.role`` says it once, and every path
(decoding, encoding, recording, replay matching, ``--verify``, ``dump``,
divergence reports, the wasm replayer) derives its behaviour from it.

No wasmtime import here: ``dump`` and the journal tools read the table on
machines without a wasm runtime.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .structs import OutKind


class WasmType(enum.Enum):
    I32 = "i32"
    I64 = "i64"


class Role(enum.Enum):
    """What a wasm parameter means, beyond its wasm type.

    Inputs (bytes the host reads from guest memory, in parameter order, which is
    the order a call's ``inputs`` are journaled in): ``IN_STR`` (one range),
    ``IN_IOVS`` (the ciovec array, then each buffer), ``OUT_IOVS`` (the iovec
    array only: the buffers are outputs), ``IN_SUBS`` (the subscription array),
    ``INOUT`` (the value before it is overwritten).
    """

    FD = "fd"
    """A file descriptor (u32), passed to the kernel as an int."""
    VALUE = "value"
    """A plain unsigned integer (size, offset, cookie, timestamp, exit code)."""
    SIGNED = "signed"
    """A signed i64 (``fd_seek``'s offset): the kernel gets the signed value."""
    FLAGS = "flags"
    """A bit set of ``Param.type``; unknown bits are ``EINVAL``."""
    RIGHTS = "rights"
    """A rights mask: bits no right is assigned to are ignored (guests pass ~0)."""
    ENUM = "enum"
    """An enumeration of ``Param.type``; an unknown value is ``EINVAL``."""
    IN_STR = "in_str"
    """Pointer to a path of ``Param.length`` bytes; the kernel gets ``str``
    (UTF-8, else ``ILSEQ``)."""
    IN_IOVS = "in_iovs"
    """Pointer to ``Param.length`` ciovecs; the kernel gets the gathered ``bytes``."""
    OUT_IOVS = "out_iovs"
    """Pointer to ``Param.length`` iovecs; the kernel gets their total size and returns
    ``bytes`` that are scattered over them."""
    OUT_BUF = "out_buf"
    """Pointer to a buffer of ``Param.length`` bytes the kernel's ``bytes`` fill
    (``Param.fill`` says how)."""
    OUT_DIRENTS = "out_dirents"
    """``fd_readdir``'s buffer: the kernel's ``Dirent`` iterator serialized, cut at
    ``Param.length`` bytes (the guest sees a truncated last entry, as POSIX says)."""
    LEN = "len"
    """The length belonging to a pointer parameter (named in that one's ``length``)."""
    OUT = "out"
    """Pointer to one out value laid out as ``Param.out``."""
    IN_SUBS = "in_subs"
    """Pointer to ``Param.length`` ``subscription`` structs; the kernel gets
    ``list[Subscription]`` (no subscription at all is ``EINVAL``)."""
    OUT_EVENTS = "out_events"
    """Pointer to room for ``Param.length`` ``event`` structs the kernel's
    ``list[Event]`` fills."""
    OUT_PTR_ARRAY = "out_ptr_array"
    """``args_get``/``environ_get``: room for one u32 pointer per string (the
    kernel's ``list[bytes]`` fills it together with the ``OUT_STR_BUF`` after it)."""
    OUT_STR_BUF = "out_str_buf"
    """``args_get``/``environ_get``: room for the NUL-terminated strings."""
    INOUT = "inout"
    """Pointer to a value the host reads and then may overwrite (WASIX ``proc_join``)."""


INT_ROLES = frozenset({Role.FD, Role.VALUE, Role.SIGNED, Role.FLAGS, Role.RIGHTS, Role.ENUM})
"""Parameters that are plain values (no memory behind them)."""
INPUT_ROLES = frozenset({Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS, Role.IN_SUBS, Role.INOUT})
"""Parameters behind which the host reads guest memory (the call's inputs)."""
RESULT_ROLES = frozenset(
    {Role.OUT, Role.OUT_IOVS, Role.OUT_BUF, Role.OUT_DIRENTS, Role.OUT_EVENTS, Role.OUT_PTR_ARRAY}
)
"""Parameters that can receive (part of) the kernel's answer."""


class Fill(enum.Enum):
    """How an ``OUT_BUF`` takes the kernel's bytes."""

    EXACT = "exact"
    """The kernel returns exactly the capacity (``random_get``; anything else is a host bug)."""
    TRUNCATE = "truncate"
    """Cut to the capacity; the count out-param says how much was written (``path_readlink``)."""
    FIT = "fit"
    """Must fit entirely, else ``ENAMETOOLONG`` (``fd_prestat_dir_name``)."""


@dataclass(frozen=True, slots=True)
class Param:
    """One wasm parameter of an import, with its meaning."""

    name: str
    wasm: WasmType
    role: Role
    type: type[enum.IntEnum] | type[enum.IntFlag] | None = None
    """Enum/flag class for ``FLAGS``/``ENUM``/``RIGHTS`` (validation and printing)."""
    length: str | None = None
    """For pointer roles: the parameter holding the element count or byte size."""
    out: OutKind | None = None
    """For ``OUT``/``INOUT``: the layout of the pointed-to value."""
    count_of: str | None = None
    """For an ``OUT`` count: the value written is how much the kernel's answer put
    into that other parameter (bytes for buffers and iovecs, items for events)
    instead of a value the kernel returns."""
    fill: Fill | None = None
    """For ``OUT_BUF``: how the kernel's bytes fill it."""
    to_kernel: bool = False
    """For ``OUT_BUF``: the kernel method takes the capacity as an argument
    (``random_get(length)``); otherwise it returns its full answer unasked."""

    @property
    def is_input(self) -> bool:
        return self.role in INPUT_ROLES

    @property
    def is_int(self) -> bool:
        return self.role in INT_ROLES
