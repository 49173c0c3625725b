"""The wasi-rr journal: file format, writer and reader. Never imports wasmtime.

See docs/journal-format.md for the byte layout and the compatibility rules.
"""

from __future__ import annotations

from .entries import FORMAT_MAJOR, FORMAT_MINOR, Entry, JournalHeader, Preopen, PreopenMode
from .errors import (
    BadEntry,
    JournalCorrupt,
    JournalError,
    JournalTruncated,
    JournalVersionError,
    JournalWriteError,
)
from .events import (
    CtxEvent,
    Event,
    ExitEvent,
    ForkEvent,
    SnapshotEvent,
    StartEvent,
    TrapEvent,
)
from .reader import EntriesFrame, JournalReader, JournalStats, open_journal
from .records import Call, Input, InputDigest
from .writer import JournalWriter

__all__ = [
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "BadEntry",
    "Call",
    "CtxEvent",
    "EntriesFrame",
    "Entry",
    "Event",
    "ExitEvent",
    "ForkEvent",
    "Input",
    "InputDigest",
    "JournalCorrupt",
    "JournalError",
    "JournalHeader",
    "JournalReader",
    "JournalStats",
    "JournalTruncated",
    "JournalVersionError",
    "JournalWriteError",
    "JournalWriter",
    "Preopen",
    "PreopenMode",
    "SnapshotEvent",
    "StartEvent",
    "TrapEvent",
    "open_journal",
]
