"""Exceptions of the journal layer, split by what went wrong.

A reader must never hand back wrong data silently, so every way a file can be
unusable has its own exception carrying *where* it stopped being usable:
``JournalTruncated`` when the file simply ends early (a writer that was killed,
a copy cut short: everything before is good), ``JournalCorrupt`` when bytes that
are present are wrong (checksum mismatch, bad magic, undecodable data), and
``JournalVersionError`` when the file was written by a newer, incompatible
format. ``JournalWriteError`` is the writer's: the disk refused our bytes.
"""

from __future__ import annotations


class JournalError(Exception):
    """Base class of every journal problem (the CLI maps it to exit status 126)."""


class JournalTruncated(JournalError):
    """The file ends before the journal does.

    ``entries`` is how many entries were read intact (they are all correct);
    ``offset`` is the byte offset of the first incomplete frame.
    """

    def __init__(self, entries: int, offset: int, detail: str = "") -> None:
        self.entries = entries
        self.offset = offset
        self.detail = detail
        msg = f"journal truncated after entry {entries} (incomplete data at byte {offset})"
        super().__init__(msg + (f": {detail}" if detail else ""))


class JournalCorrupt(JournalError):
    """Bytes in the file are damaged or were not written by a wasi-rr journal writer.

    ``offset`` is the byte offset of the damaged frame (or field); ``entries`` is
    how many entries before it were read intact.
    """

    def __init__(self, offset: int, reason: str, entries: int = 0) -> None:
        self.offset = offset
        self.reason = reason
        self.entries = entries
        super().__init__(f"journal corrupt at byte {offset} (after entry {entries}): {reason}")


class JournalVersionError(JournalError):
    """The journal uses a newer major format version than this reader understands."""

    def __init__(self, major: int, minor: int, supported: tuple[int, int]) -> None:
        self.major = major
        self.minor = minor
        super().__init__(
            f"journal format {major}.{minor} is newer than this wasi-rr supports "
            f"({supported[0]}.{supported[1]}); upgrade wasi-rr to read it"
        )


class JournalWriteError(JournalError):
    """The journal could not be written (disk full, permission denied, closed writer...).

    The file on disk stays readable up to the last frame that was fully written.
    """
