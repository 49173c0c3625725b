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

from wasi_rr.errors import WasiRrError
from wasi_rr.exitcodes import ExitStatus


class JournalError(WasiRrError):
    """A journal that cannot be read as it should: damaged, cut short, or of an
    unsupported format version (the journal is at fault: exit status 126)."""

    status = ExitStatus.JOURNAL_ERROR


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


class BadEntry(JournalCorrupt):
    """An entry whose framing and checksums are fine but whose content is not:
    a field of the wrong type or out of range (a crafted or buggy journal)."""

    def __init__(self, entry: int, field: str, what: str, offset: int = 0) -> None:
        self.entry = entry
        self.field = field
        self.what = what
        JournalError.__init__(self, f"journal corrupt at entry {entry}: {field} {what}")
        self.offset = offset
        self.reason = f"{field} {what}"
        self.entries = entry


class JournalVersionError(JournalError):
    """The journal's major format version is not the one this reader understands:
    a newer one (upgrade wasi-rr) or a retired older one (re-record it)."""

    def __init__(self, major: int, minor: int, supported: tuple[int, int]) -> None:
        self.major = major
        self.minor = minor
        if major > supported[0]:
            text = (f"journal format {major}.{minor} is newer than this wasi-rr supports "
                    f"({supported[0]}.{supported[1]}); upgrade wasi-rr to read it")
        else:
            text = (f"journal format {major}.{minor} was written by wasi-rr 0.1 and is no "
                    f"longer read by this wasi-rr (format {supported[0]}.{supported[1]}); "
                    "re-record it with `wasi-rr record`, or read it with wasi-rr 0.1")
        super().__init__(text)


class JournalWriteError(WasiRrError):
    """The journal could not be written (disk full, permission denied, closed writer...):
    the environment's fault, not the journal's (a tool error, exit status 125).

    The file on disk stays readable up to the last frame that was fully written.
    """
