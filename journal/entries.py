"""The journal header, and the union of everything a reader yields.

These dataclasses are the journal's own vocabulary: they do not depend on the
host layer (``wasi_rr.host``), so a journal can be read, dumped and checked on
a machine with no wasm runtime at all. Calls (``records.Call``) and events
(``events``) live next door; ``Entry`` is either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .events import CtxEvent, ExitEvent, ForkEvent, SnapshotEvent, StartEvent, TrapEvent
from .records import Call

FORMAT_MAJOR = 2
"""Bumped when an old reader would misread a new file (it then refuses it)."""
FORMAT_MINOR = 0
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
    functions: list[str] = field(default_factory=list)
    """``module::name`` of each function number used by the call records."""
    wasi_rr_version: str = ""
    created_unix_ns: int = 0
    format_version: tuple[int, int] = (FORMAT_MAJOR, FORMAT_MINOR)
    extra: dict[str, Any] = field(default_factory=dict)
    """Header keys written by a newer minor version that this reader does not know."""


Entry = Call | StartEvent | ExitEvent | TrapEvent | SnapshotEvent | ForkEvent | CtxEvent
"""What ``JournalReader`` yields, in journal order."""
