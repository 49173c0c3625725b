"""The wasi-rr journal: file format, writer and reader. Never imports wasmtime.

See docs/journal-format.md for the byte layout and the compatibility rules.
"""

from __future__ import annotations

from .entries import (
    FORMAT_MAJOR,
    FORMAT_MINOR,
    Entry,
    Event,
    ExitEvent,
    ForkEvent,
    Input,
    InputDigest,
    JournalHeader,
    Preopen,
    PreopenMode,
    SnapshotEvent,
    StartEvent,
    SyscallEntry,
    TrapEvent,
)
from .errors import (
    JournalCorrupt,
    JournalError,
    JournalTruncated,
    JournalVersionError,
    JournalWriteError,
)
from .reader import JournalReader, JournalStats, open_journal
from .writer import JournalWriter

__all__ = [
    "FORMAT_MAJOR", "FORMAT_MINOR",
    "Entry", "Event", "SyscallEntry", "StartEvent", "ExitEvent", "TrapEvent", "SnapshotEvent",
    "ForkEvent", "Input", "InputDigest", "JournalHeader", "Preopen", "PreopenMode",
    "JournalError", "JournalCorrupt", "JournalTruncated", "JournalVersionError",
    "JournalWriteError",
    "JournalReader", "JournalStats", "open_journal", "JournalWriter",
]
