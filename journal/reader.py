"""``JournalReader``: validates and lazily decodes a journal file.

Reading is frame by frame, so memory is bounded by the largest frame whatever
the journal's length. Every frame's header CRC and payload CRC are checked
before anything in it is believed; a file that ends early raises
``JournalTruncated`` after yielding every intact entry; damaged bytes raise
``JournalCorrupt`` with the byte offset of the damaged frame. A file that lacks
the END frame written by ``JournalWriter.close()`` is a truncated one (a writer
that was killed), even if it ends exactly on a frame boundary.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import msgpack
import zstandard

from .codec import FrameDecodeError, FrameDecoder, RawBatch, SyscallBatch
from .entries import FORMAT_MAJOR, FORMAT_MINOR, Entry, JournalHeader
from .errors import JournalCorrupt, JournalTruncated, JournalVersionError
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


@dataclass(slots=True)
class JournalStats:
    """Frame-level numbers gathered while iterating (for ``dump --stats``)."""

    frames: int = 0
    raw_bytes: int = 0
    """Uncompressed size of the entries frames' payloads."""
    stored_bytes: int = 0
    """On-disk size of the entries frames, headers included."""
    skipped_entries: int = 0
    """Entries of kinds this reader does not know (newer minor version), skipped."""
    summary: dict[str, Any] = field(default_factory=dict)
    """The END frame's map (entries, syscalls, wall_ns...), once reached."""


class JournalReader:
    """Opens a journal, reads its header eagerly and its entries lazily.

    ``header`` is available right after construction; iterate the reader (or call
    ``entries()``) for the typed entries in order; ``module_bytes()`` returns the
    embedded module (checked against its SHA-256) or None when it was left out.
    """

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
        self._yielded = 0
        """Entries yielded by ``batches`` so far (for error reports)."""

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
        if major > FORMAT_MAJOR:
            raise JournalVersionError(major, minor, (FORMAT_MAJOR, FORMAT_MINOR))
        if major < 1:
            raise JournalCorrupt(8, f"unsupported journal format version {major}.{minor}")
        self.format_version = (major, minor)
        offset = PREFIX.size
        fh, payload = self._read_frame(offset, 0)
        if fh.kind != FrameKind.HEADER:
            raise JournalCorrupt(offset, "first frame is not a header frame")
        try:
            header = header_from_wire(msgpack.unpackb(self._payload_bytes(fh, payload, offset, 0),
                                                      raw=False, strict_map_key=False))
        except (ValueError, TypeError, KeyError, IndexError, msgpack.UnpackException) as exc:
            raise JournalCorrupt(offset, f"undecodable journal header: {exc}") from exc
        if header.format_version != (major, minor):
            raise JournalCorrupt(8, f"file prefix says format {major}.{minor}, header says "
                                 f"{header.format_version[0]}.{header.format_version[1]}")
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
        if fh.codec == Codec.STORED:
            raw = payload
        elif fh.codec == Codec.ZSTD:
            try:
                raw = zstandard.ZstdDecompressor().decompress(payload, max_output_size=fh.raw_len)
            except zstandard.ZstdError as exc:
                raise JournalCorrupt(offset, f"undecodable compressed frame: {exc}",
                                     entries) from exc
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
                raise JournalCorrupt(offset, f"undecodable blob frame: {exc}") from exc
            if kind == "module" and sha == self.header.module_sha256:
                if hashlib.sha256(data).hexdigest() != sha:
                    raise JournalCorrupt(offset, "embedded module does not match its sha256")
                return bytes(data)
            offset += FRAME_HEADER_SIZE + fh.plen

    # -- entries --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Entry]:
        return self.entries()

    def entries(self) -> Iterator[Entry]:
        """Yield every entry in order; raise JournalTruncated/JournalCorrupt at a bad spot.

        Every entry yielded before an exception is correct. ``self.stats`` is
        updated as frames are consumed.
        """
        for batch in self.batches():
            if type(batch) is SyscallBatch:
                try:
                    yield from batch.entries()
                except FrameDecodeError as exc:
                    raise JournalCorrupt(batch.where, str(exc),
                                         self._yielded - len(batch.items)) from exc
            else:
                yield batch  # type: ignore[misc]

    def batches(self) -> Iterator[RawBatch]:
        """The entries as ``codec.SyscallBatch``es (runs of one process's syscalls,
        each a plain tuple or a still-compact repeat, see ``SyscallBatch``) and the
        typed events between them. Same checks and errors as ``entries`` (which is
        built on it): the items of a damaged frame before the damage come as a last
        batch, then the error. Replay's fast path walks these batches without an
        object per call.
        """
        stats = self.stats = JournalStats()
        self._yielded = 0
        offset = self._body_offset
        decoder = FrameDecoder()
        yielded = 0
        objects = 0
        while True:
            fh, payload = self._read_frame(offset, yielded)
            here = offset
            offset += FRAME_HEADER_SIZE + fh.plen
            if fh.kind == FrameKind.ENTRIES:
                if fh.first != objects:
                    raise JournalCorrupt(here, f"frame out of sequence: starts at entry "
                                         f"object {fh.first}, expected {objects} (a frame "
                                         "is missing or duplicated)", yielded)
                raw = self._payload_bytes(fh, payload, here, yielded)
                stats.frames += 1
                stats.raw_bytes += fh.raw_len
                stats.stored_bytes += FRAME_HEADER_SIZE + fh.plen
                try:
                    for batch in decoder.decode_batches(raw, fh.count):
                        stats.skipped_entries = decoder.skipped
                        if type(batch) is SyscallBatch:
                            batch.where = here
                            yielded += len(batch.items)
                        else:
                            yielded += 1
                        self._yielded = yielded
                        yield batch
                except FrameDecodeError as exc:
                    raise JournalCorrupt(here, str(exc), yielded) from exc
                finally:
                    stats.skipped_entries = decoder.skipped
                objects += fh.count
            elif fh.kind == FrameKind.END:
                try:
                    summary = msgpack.unpackb(self._payload_bytes(fh, payload, here, yielded),
                                              raw=False)
                    expected = summary["objects"]
                except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
                    raise JournalCorrupt(here, f"undecodable end frame: {exc}",
                                         yielded) from exc
                if expected != objects:
                    raise JournalCorrupt(here, f"end frame counts {expected} entry objects, "
                                         f"the frames hold {objects}", yielded)
                if offset != self.size:
                    raise JournalCorrupt(offset, "unexpected data after the end of the "
                                         "journal", yielded)
                stats.summary = summary
                return
            elif fh.kind == FrameKind.HEADER:
                raise JournalCorrupt(here, "a second header frame", yielded)
            # BLOB frames (module, later snapshots) and unknown kinds of a newer minor
            # version are skipped: they carry nothing an entry iteration needs.

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_journal(path: str | os.PathLike[str]) -> JournalReader:
    """Open a journal for reading (see ``JournalReader``)."""
    return JournalReader(path)
