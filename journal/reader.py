"""``JournalReader``: validates a journal and reads it frame by frame.

Memory is bounded by the largest frame whatever the journal's length. Every
frame's header CRC and payload CRC are checked before anything in it is
believed; a file that ends early raises ``JournalTruncated`` after everything
intact was handed out; damaged bytes raise ``JournalCorrupt`` with the byte
offset of the damaged frame; a record whose framing is fine but whose fields
are not raises ``BadEntry`` ("journal corrupt at entry N: <field> <what>").
A file without the END frame written by ``JournalWriter.close()`` is a
truncated one (its writer was killed), even if it ends on a frame boundary.

Two ways to read: ``frames()`` hands out the decompressed payloads (replay's
tape copies them into wasm memory as they are), ``entries()`` decodes every
record into a ``Call`` or an event (dump, verify, tools). ``check`` is an
optional validator for what the journal layer cannot know (the signature
table's arity and ranges: ``wasi_rr.host.table.validate``).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import msgpack
import zstandard

from .entries import FORMAT_MAJOR, FORMAT_MINOR, Entry, JournalHeader
from .errors import BadEntry, JournalCorrupt, JournalTruncated, JournalVersionError
from .events import CtxEvent, EventError, StartEvent, event_from_wire
from .framing import (
    FILE_MAGIC,
    FRAME_HEADER_SIZE,
    PREFIX,
    Codec,
    FrameHeader,
    FrameKind,
    decode_frame_header,
)
from .header import header_from_wire
from .records import (
    Call,
    RecordError,
    event_payload,
    is_event,
    parse_call,
    record_size,
)

MAX_RAW_FRAME = 1 << 30
"""The largest decompressed frame a reader accepts: a writer's frames hold about
1 MiB of records (one huge record, or the module blob, can be larger); a crafted
header must not make the reader allocate gigabytes."""

CallCheck = Callable[[Call], "tuple[str, str] | None"]
"""Returns why a decoded call is invalid (``(field, what is wrong)``), or None."""


@dataclass(slots=True)
class JournalStats:
    """Frame-level numbers gathered while reading (for ``dump --stats``)."""

    frames: int = 0
    raw_bytes: int = 0
    """Uncompressed size of the entries frames' payloads."""
    stored_bytes: int = 0
    """On-disk size of the entries frames, headers included."""
    skipped_entries: int = 0
    """Events of kinds this reader does not know (newer minor version), skipped."""
    summary: dict[str, Any] = field(default_factory=dict)
    """The END frame's map (frames, syscalls, wall_ns...), once reached."""


@dataclass(frozen=True, slots=True)
class EntriesFrame:
    """One ENTRIES frame's records (``payload``), found at byte ``offset``."""

    offset: int
    index: int
    payload: bytes


class JournalReader:
    """Opens a journal, reads its header eagerly and its entries lazily."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._f: BinaryIO = open(self.path, "rb")
        try:
            self.size = os.fstat(self._f.fileno()).st_size
            self.header = self._read_prefix_and_header()
        except BaseException:
            self._f.close()
            raise
        self.stats = JournalStats()
        self.functions: list[tuple[str, str]] = [_split(f) for f in self.header.functions]

    # -- structure ------------------------------------------------------------------
    def _read_prefix_and_header(self) -> JournalHeader:
        raw = self._f.read(PREFIX.size)
        if len(raw) < PREFIX.size:
            if raw[: len(FILE_MAGIC)] == FILE_MAGIC[: len(raw)]:
                raise JournalTruncated(0, 0, "file ends inside the journal prefix")
            raise JournalCorrupt(0, "not a wasi-rr journal (bad magic)")
        magic, major, minor = PREFIX.unpack(raw)
        if magic != FILE_MAGIC:
            raise JournalCorrupt(0, "not a wasi-rr journal (bad magic)")
        if major != FORMAT_MAJOR:
            if major == 0:
                raise JournalCorrupt(8, f"unsupported journal format version {major}.{minor}")
            raise JournalVersionError(major, minor, (FORMAT_MAJOR, FORMAT_MINOR))
        self.format_version = (major, minor)
        offset = PREFIX.size
        fh, payload = self._read_frame(offset, 0)
        if fh.kind != FrameKind.HEADER:
            raise JournalCorrupt(offset, "first frame is not a header frame")
        try:
            header = header_from_wire(msgpack.unpackb(self._payload_bytes(fh, payload, offset, 0),
                                                      raw=False, strict_map_key=False))
        except (ValueError, TypeError, KeyError, IndexError, msgpack.UnpackException) as exc:
            raise JournalCorrupt(offset, f"undecodable journal header: {exc}") from None
        if header.format_version != (major, minor):
            raise JournalCorrupt(8, f"file prefix says format {major}.{minor}, header says "
                                 f"{header.format_version[0]}.{header.format_version[1]}")
        if len(header.functions) >= 0xFFFF or not all("::" in f for f in header.functions):
            raise JournalCorrupt(offset, "journal header lists malformed function names")
        self._body_offset = offset + FRAME_HEADER_SIZE + fh.plen
        return header

    def _read_frame(self, offset: int, entries: int) -> tuple[FrameHeader, bytes]:
        """Read and validate the frame at ``offset``; ``entries`` is for error messages."""
        self._f.seek(offset)
        head = self._f.read(FRAME_HEADER_SIZE)
        if len(head) < FRAME_HEADER_SIZE:
            if not head:
                raise JournalTruncated(entries, offset, "no end-of-journal marker "
                                       "(the writer did not close the journal)")
            raise JournalTruncated(entries, offset, "file ends inside a frame header")
        fh = decode_frame_header(head)
        if isinstance(fh, str):
            raise JournalCorrupt(offset, fh, entries)
        payload = self._f.read(fh.plen)
        if len(payload) < fh.plen:
            raise JournalTruncated(entries, offset, f"frame needs {fh.plen} payload bytes, "
                                   f"file has {len(payload)}")
        if zlib.crc32(payload) != fh.pcrc:
            raise JournalCorrupt(offset, "frame payload checksum mismatch", entries)
        return fh, payload

    def _payload_bytes(self, fh: FrameHeader, payload: bytes, offset: int, entries: int) -> bytes:
        if fh.raw_len > MAX_RAW_FRAME:
            raise JournalCorrupt(offset, f"frame claims {fh.raw_len} bytes once decompressed "
                                 f"(more than the {MAX_RAW_FRAME} a journal frame can hold)",
                                 entries)
        if fh.codec == Codec.STORED:
            raw = payload
        elif fh.codec == Codec.ZSTD:
            try:
                raw = zstandard.ZstdDecompressor().decompress(payload, max_output_size=fh.raw_len)
            except (zstandard.ZstdError, MemoryError) as exc:
                raise JournalCorrupt(offset, f"undecodable compressed frame: {exc}",
                                     entries) from None
        else:
            raise JournalCorrupt(offset, f"unknown frame codec {fh.codec}", entries)
        if len(raw) != fh.raw_len:
            raise JournalCorrupt(offset, f"frame decompresses to {len(raw)} bytes, header "
                                 f"says {fh.raw_len}", entries)
        return raw

    # -- module ---------------------------------------------------------------------------
    def module_bytes(self) -> bytes | None:
        """The embedded module, verified against ``header.module_sha256``; None if absent."""
        if not self.header.module_embedded:
            return None
        offset = self._body_offset
        while True:
            fh, payload = self._read_frame(offset, 0)
            if fh.kind != FrameKind.BLOB:
                raise JournalCorrupt(offset, "journal says the module is embedded but it "
                                     "is missing")
            try:
                blob = msgpack.unpackb(self._payload_bytes(fh, payload, offset, 0), raw=False)
                kind, sha, data = blob["kind"], blob["sha256"], blob["data"]
            except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
                raise JournalCorrupt(offset, f"undecodable blob frame: {exc}") from None
            if kind == "module" and sha == self.header.module_sha256:
                if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != sha:
                    raise JournalCorrupt(offset, "embedded module does not match its sha256")
                return data
            offset += FRAME_HEADER_SIZE + fh.plen

    # -- frames -----------------------------------------------------------------------------
    def frames(self, entries_before: Callable[[], int] = lambda: 0) -> Iterator[EntriesFrame]:
        """Every ENTRIES frame's decompressed payload, in order, then the END frame's
        checks. ``entries_before`` tells error messages how many entries the
        consumer has taken so far."""
        stats = self.stats = JournalStats()
        offset = self._body_offset
        index = 0
        while True:
            fh, payload = self._read_frame(offset, entries_before())
            here = offset
            offset += FRAME_HEADER_SIZE + fh.plen
            if fh.kind == FrameKind.ENTRIES:
                if fh.first != index:
                    raise JournalCorrupt(here, f"frame out of sequence: frame {fh.first} where "
                                         f"frame {index} belongs (a frame is missing or "
                                         "duplicated)", entries_before())
                raw = self._payload_bytes(fh, payload, here, entries_before())
                stats.frames += 1
                stats.raw_bytes += fh.raw_len
                stats.stored_bytes += FRAME_HEADER_SIZE + fh.plen
                yield EntriesFrame(here, index, raw)
                index += 1
            elif fh.kind == FrameKind.END:
                self._end(fh, payload, here, offset, index, entries_before())
                return
            elif fh.kind == FrameKind.HEADER:
                raise JournalCorrupt(here, "a second header frame", entries_before())
            # BLOB frames and unknown kinds of a newer minor version are skipped.

    def _end(self, fh: FrameHeader, payload: bytes, here: int, offset: int, frames: int,
             entries: int) -> None:
        try:
            summary = msgpack.unpackb(self._payload_bytes(fh, payload, here, entries), raw=False)
            expected = summary["frames"]
            syscalls = summary["syscalls"]
        except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
            raise JournalCorrupt(here, f"undecodable end frame: {exc}", entries) from None
        if type(expected) is not int or (syscalls is not None and type(syscalls) is not int):
            raise JournalCorrupt(here, "end frame counts are not integers", entries)
        if expected != frames:
            raise JournalCorrupt(here, f"end frame counts {expected} entries frames, the "
                                 f"journal holds {frames}", entries)
        if offset != self.size:
            raise JournalCorrupt(offset, "unexpected data after the end of the journal", entries)
        self.stats.summary = summary

    # -- entries ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Entry]:
        return self.entries()

    def entries(self, check: CallCheck | None = None) -> Iterator[Entry]:
        """Every call and event in order (``ctx`` events included: they say where
        the next calls belong). Every entry yielded before an exception is correct."""
        state = _Walk(self.functions, check)
        for frame in self.frames(lambda: state.count):
            yield from state.walk(frame)
        state.finish(self.stats)

    def calls(self, check: CallCheck | None = None) -> Iterator[Call]:
        """Only the calls."""
        for entry in self.entries(check):
            if isinstance(entry, Call):
                yield entry

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _Walk:
    """Decodes records frame after frame, tracking process and sequence number."""

    def __init__(self, functions: list[tuple[str, str]], check: CallCheck | None) -> None:
        self.functions = functions
        self.check = check
        self.count = 0
        self.syscalls = 0
        self.skipped = 0
        self.pid = 0
        self.seqs: dict[int, int] = {}

    def walk(self, frame: EntriesFrame) -> Iterator[Entry]:
        buf = frame.payload
        end = len(buf)
        off = 0
        while off < end:
            try:
                size = record_size(buf, off, end)
                entry = (self._event(buf, off, size) if is_event(buf, off)
                         else self._call(buf, off, size))
            except (RecordError, EventError) as exc:
                field, what = ((exc.field, exc.what) if isinstance(exc, RecordError)
                               else ("event", str(exc)))
                raise BadEntry(self.count, field, what, frame.offset) from None
            off += size
            if entry is None:
                self.skipped += 1
                continue
            self.count += 1
            yield entry

    def _event(self, buf: bytes, off: int, size: int) -> Entry | None:
        event = event_from_wire(event_payload(buf, off, size))
        if isinstance(event, StartEvent):
            self.pid = event.pid
            self.seqs[event.pid] = 0
        elif isinstance(event, CtxEvent):
            self.pid = event.pid
            self.seqs[event.pid] = event.seq
        return event

    def _call(self, buf: bytes, off: int, size: int) -> Call:
        raw = parse_call(buf, off, size, len(self.functions))
        module, name = self.functions[raw.fid]
        seq = self.seqs.get(self.pid, 0)
        self.seqs[self.pid] = seq + 1
        call = Call(seq, module, name, raw.params, raw.inputs, raw.errno, raw.writes,
                    self.pid, raw.flags)
        if self.check is not None:
            problem = self.check(call)
            if problem is not None:
                raise RecordError(*problem)
        self.syscalls += 1
        return call

    def finish(self, stats: JournalStats) -> None:
        stats.skipped_entries = self.skipped
        expected = stats.summary.get("syscalls")
        if type(expected) is int and expected != self.syscalls:
            raise BadEntry(self.count, "end frame", f"counts {expected} syscalls, the "
                           f"journal holds {self.syscalls}")


def _split(name: str) -> tuple[str, str]:
    module, _, fn = name.partition("::")
    return module, fn


def open_journal(path: str | os.PathLike[str]) -> JournalReader:
    """Open a journal for reading (see ``JournalReader``)."""
    return JournalReader(path)
