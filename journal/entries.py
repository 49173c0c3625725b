"""Typed journal entries and the journal header.

These dataclasses are the journal's own vocabulary: they do not depend on the
host layer (``wasi_rr.host``), so a journal can be read, dumped and checked on
a machine with no wasm runtime at all. ``wasi_rr.record`` converts the
adapter's ``SyscallRecord`` into a ``write_syscall`` call at the boundary.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any, Union

FORMAT_MAJOR = 1
"""Bumped when an old reader would misread a new file (it then refuses it)."""
FORMAT_MINOR = 1
"""Bumped when new entry kinds/fields appear that old readers may safely skip."""


class PreopenMode(str, enum.Enum):
    """How a preopened directory was exposed (mirrors ``MountMode`` plus tmpfs)."""

    WRITE_THROUGH = "write-through"
    OVERLAY = "overlay"
    READ_ONLY = "read-only"
    TMPFS = "tmpfs"


@dataclass(frozen=True, slots=True)
class Preopen:
    """One preopened directory as the guest saw it.

    ``host`` is informational (it is the recording machine's path, meaningless
    elsewhere); replay never touches it.
    """

    guest: str
    mode: str
    host: str | None = None


@dataclass(slots=True)
class JournalHeader:
    """Everything needed to understand (and re-drive) a journal without other files.

    ``module_sha256`` is the hex SHA-256 of the module bytes: it names the embedded
    module blob, and lets ``replay --module FILE`` check it got the right module when
    the journal was written without one. ``options`` holds every run option that
    shapes the guest's behaviour (e.g. ``trap_unknown_imports``); ``meta`` is free
    form (host name, ticket number...). ``redacted_env`` lists variables whose value
    was replaced by a same-length placeholder.
    """

    module_sha256: str
    argv: list[str] = field(default_factory=list)
    env: list[tuple[str, str]] = field(default_factory=list)
    preopens: list[Preopen] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    module_name: str = ""
    module_size: int = 0
    module_embedded: bool = False
    redacted_env: list[str] = field(default_factory=list)
    input_hash_threshold: int | None = None
    wasi_rr_version: str = ""
    created_unix_ns: int = 0
    format_version: tuple[int, int] = (FORMAT_MAJOR, FORMAT_MINOR)
    extra: dict[str, Any] = field(default_factory=dict)
    """Header keys written by a newer minor version that this reader does not know."""


@dataclass(frozen=True, slots=True)
class InputDigest:
    """Stands for an input buffer that was stored as its hash instead of its bytes.

    Inputs (bytes the guest passed to the host) larger than the writer's
    ``input_hash_threshold`` are replaced by their length and SHA-256: replay only
    needs to check the guest passed the same bytes again, and the guest
    regenerates them itself. Writes to stdout/stderr are always kept in full.
    """

    length: int
    sha256: bytes

    def __len__(self) -> int:
        """The length of the buffer it stands for (so size accounting treats both alike)."""
        return self.length

    @classmethod
    def of(cls, data: bytes) -> InputDigest:
        """The digest that stands for ``data``."""
        return cls(len(data), hashlib.sha256(data).digest())

    def matches(self, data: bytes) -> bool:
        """True if ``data`` is the buffer this digest was made from."""
        return len(data) == self.length and hashlib.sha256(data).digest() == self.sha256


Input = Union[bytes, InputDigest]


@dataclass(slots=True)
class SyscallEntry:
    """One host call, in call order. Treat it as read-only.

    Not ``frozen``: a frozen dataclass sets each field through
    ``object.__setattr__`` and took ~4x longer to build, which was most of the
    reader's time per entry (and a replay builds one per syscall).

    ``params`` are the raw wasm arguments (i32 as u32, i64 as u64); ``inputs`` every
    byte range read from guest memory, in read order; ``errno`` the return value;
    ``writes`` every (address, bytes) the host wrote into guest memory. ``pid`` is
    the process of the latest ``StartEvent`` (0 when there was none).
    """

    seq: int
    module: str
    name: str
    params: tuple[int, ...]
    inputs: tuple[Input, ...]
    errno: int
    writes: tuple[tuple[int, bytes], ...]
    pid: int = 0


@dataclass(frozen=True, slots=True)
class StartEvent:
    """A process started: ``argv`` as the guest sees it."""

    pid: int
    argv: tuple[str, ...] = ()
    time_unix_ns: int = 0


@dataclass(frozen=True, slots=True)
class ExitEvent:
    """A process exited with ``status`` (``proc_exit`` code, 0 when ``_start`` returned)."""

    pid: int
    status: int
    elapsed_ns: int = 0


@dataclass(frozen=True, slots=True)
class TrapEvent:
    """A process trapped (unreachable, out of bounds, host bug turned into a trap...)."""

    pid: int
    message: str
    elapsed_ns: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotEvent:
    """A snapshot of process ``pid`` stopped before its syscall ``seq`` (minor 1).

    ``snapshot`` is the host's serialized ``Snapshot`` (memory, globals,
    asyncify stack, interrupted call), its memory a delta against snapshot
    ``base`` of the same journal (None: a full image); ``fs`` is the frozen
    ``WasiFs`` family. The journal does not interpret either blob: they are
    produced and read by ``wasi_rr.host``. ``trigger`` says why it was taken
    (``every``, ``stdin``, ``exit``, ``signal``...).
    """

    pid: int
    id: int
    seq: int
    trigger: str
    snapshot: bytes
    fs: bytes
    base: int | None = None
    module_sha256: str = ""
    """SHA-256 of the instrumented module the snapshot belongs to."""
    time_unix_ns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    """Producer-defined fields (e.g. pids of the processes frozen with ``fs``)."""


@dataclass(frozen=True, slots=True)
class ForkEvent:
    """Process ``pid`` forked ``child`` at its syscall ``seq`` (WASIX ``proc_fork``; minor 1)."""

    pid: int
    child: int
    seq: int = 0


Event = Union[StartEvent, ExitEvent, TrapEvent, SnapshotEvent, ForkEvent]
Entry = Union[SyscallEntry, StartEvent, ExitEvent, TrapEvent, SnapshotEvent, ForkEvent]
