"""``JournalWriter``: a plain persister of records into a crash-safe journal file.

The writer knows framing, compression and durability, nothing of how calls are
made: recorders append finished binary records (``records.py``) to
``writer.buf`` themselves (the generated record callbacks do it with one
``pack`` and a few ``extend``s, no object per call), or hand a ``Call`` to
``write_call``. When ``len(buf)`` reaches ``limit`` the recorder calls
``flush_full``; the buffer is then zstd-compressed (level 1: recording's CPU is
what users feel, and the frames are only a few percent bigger than level 3's)
and appended as one checksummed frame with a single ``write`` + ``flush``.

A guest that goes quiet (blocked in ``poll_oneoff``, on stdin, or computing
without syscalls) makes no calls that would flush, so a timer thread wakes
every ``flush_interval`` and writes out the *complete* records in the buffer:
records are appended in several C calls, so it walks their size fields from
where it last stopped and takes only those that are entirely there. It never
clears the buffer (the owner's thread does, under the lock), and the hot path
takes no lock.

Guarantees: bounded memory (one frame's buffer plus one record); a writer
killed at any point leaves a file readable up to its last complete frame; on a
write error the partial frame is cut off and ``JournalWriteError`` is raised by
the next flush, ``write_event``, ``flush`` or ``close``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

import msgpack
import zstandard

from .entries import FORMAT_MAJOR, FORMAT_MINOR, JournalHeader
from .errors import JournalWriteError
from .events import CtxEvent, Event, StartEvent, event_to_wire
from .framing import (
    FILE_MAGIC,
    FRAME_HEADER_SIZE,
    PREFIX,
    Codec,
    FrameKind,
    decode_frame_header,
    encode_frame_header,
)
from .header import header_to_wire
from .records import HEADER_SIZE, U32, Call, InputDigest, encode_call, encode_event

DEFAULT_FRAME_BYTES = 1 << 20
DEFAULT_FLUSH_INTERVAL = 0.25
DEFAULT_LEVEL = 1
DEFAULT_INPUT_HASH_THRESHOLD = 4096


class BlobCache(Protocol):
    """Where encoded module blob frames are kept between recordings (the host's
    module cache offers it; the journal only needs these two calls)."""

    def load_blob(self, sha256: str) -> bytes | None: ...

    def store_blob(self, sha256: str, data: bytes) -> None: ...



def _cached_frame_ok(data: bytes) -> bool:
    """``data`` is one whole, intact, zstd-compressed BLOB frame."""
    if len(data) <= FRAME_HEADER_SIZE:
        return False
    fh = decode_frame_header(data[:FRAME_HEADER_SIZE])
    return (not isinstance(fh, str) and fh.kind == FrameKind.BLOB and fh.codec == Codec.ZSTD
            and fh.plen == len(data) - FRAME_HEADER_SIZE
            and zlib.crc32(memoryview(data)[FRAME_HEADER_SIZE:]) == fh.pcrc)


class RecordTail(Protocol):
    """Records appended outside ``buf`` (the wasm recorder's tape in wasm memory),
    all of them *after* the records in ``buf``: whoever appends to ``buf`` has the
    writer ``pull`` the tail first."""

    def pending(self, *, timer: bool = False) -> bytes:
        """The complete records appended since the last call, now handed over.
        Called with the writer's lock held, from the owner's thread or (``timer``)
        the writer's timer thread, which must only be given records whose bytes
        are surely visible to it."""

    def reset(self) -> None:
        """Start the tail empty again (the owner's thread, appender paused)."""


class JournalWriter:
    """Writes one journal file. Use as a context manager, or call ``close()``.

    ``header.functions`` must list ``module::name`` of every function the
    records will number (the recorder passes the signature table's list).
    ``module`` (the wasm bytes) is embedded as a content-addressed blob unless
    None. ``input_hash_threshold``: inputs longer than this may be stored as
    (length, sha256) (``digest``); None keeps everything. ``background=False``
    starts no timer thread: frames are then cut only by size, events,
    ``flush`` and ``close`` (deterministic boundaries for tests).
    """

    def __init__(self, path: str | os.PathLike[str], header: JournalHeader, *,
                 module: bytes | None = None, module_sha256: str | None = None,
                 blob_cache: BlobCache | None = None, level: int = DEFAULT_LEVEL,
                 frame_bytes: int = DEFAULT_FRAME_BYTES,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL,
                 input_hash_threshold: int | None = DEFAULT_INPUT_HASH_THRESHOLD,
                 background: bool = True) -> None:
        self.path = Path(path)
        self._t0 = time.monotonic_ns()
        self._prepare_header(header, module, input_hash_threshold, module_sha256)
        self._blobs = blob_cache
        self.header = header
        self._fids = {name: i for i, name in enumerate(header.functions)}
        self.threshold = input_hash_threshold
        self.limit = max(HEADER_SIZE, frame_bytes)
        """Buffer size at which a recorder calls ``flush_full``."""
        self._interval = flush_interval
        self._closed = False
        self._lock = threading.Lock()
        self._cctx = zstandard.ZstdCompressor(level=level)
        self._error: BaseException | None = None
        self._frames = 0
        self._taken = 0
        """Buffer bytes the timer already wrote out (the owner clears them)."""
        self._last_frame = time.monotonic()
        self.raw_bytes = 0
        self.disk_bytes = 0
        self.calls_written = 0
        """Calls appended through ``write_call``."""
        self.direct = False
        """Set by a recorder that appends records to ``buf`` itself: the END frame then
        leaves the call count out (nobody counted; readers count)."""
        self.events_written = 0
        self.buf = bytearray()
        """Whole records not yet in a frame, appended by recorders; cleared in
        place (recorders hold its ``extend``)."""
        self.tail: RecordTail | None = None
        """Records kept elsewhere until pulled (``RecordTail``)."""
        self._open_file(module)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background and flush_interval > 0:
            self._thread = threading.Thread(target=self._run, name="wasi-rr-journal",
                                            daemon=True)
            self._thread.start()

    @staticmethod
    def _prepare_header(header: JournalHeader, module: bytes | None,
                        threshold: int | None, known_sha256: str | None) -> None:
        if module is not None:
            sha = known_sha256 or hashlib.sha256(module).hexdigest()
            if header.module_sha256 and header.module_sha256 != sha:
                raise ValueError("header.module_sha256 does not match the module bytes")
            header.module_sha256 = sha
            header.module_size = len(module)
        header.module_embedded = module is not None
        header.input_hash_threshold = threshold
        header.format_version = (FORMAT_MAJOR, FORMAT_MINOR)
        if len(header.functions) >= 0xFFFF:
            raise ValueError("too many functions for one journal")
        if not header.created_unix_ns:
            header.created_unix_ns = time.time_ns()
        if not header.wasi_rr_version:
            from wasi_rr._version import __version__

            header.wasi_rr_version = __version__

    def _open_file(self, module: bytes | None) -> None:
        try:
            self._f: BinaryIO = open(self.path, "wb")
            self._f.write(PREFIX.pack(FILE_MAGIC, FORMAT_MAJOR, FORMAT_MINOR))
            self._f.flush()
        except OSError as exc:
            raise JournalWriteError(
                f"cannot write journal {self.path}: {exc.strerror or exc}") from exc
        self._good_offset = PREFIX.size
        self._write_frame(FrameKind.HEADER, 0, msgpack.packb(header_to_wire(self.header),
                                                             use_bin_type=True))
        if module is not None:
            self._write_module(module)
        if self._error is not None:
            self._f.close()
            self._raise_pending()

    def _write_module(self, module: bytes) -> None:
        """The module blob frame. The whole encoded frame is kept in the blob cache
        and written as it is when this module was embedded before: compressing a
        big module, and even copying or checksumming it twice, is most of a short
        recording's fixed cost. A cached frame is used only if its header and
        payload checksums hold, so a damaged cache never damages a journal."""
        sha = self.header.module_sha256
        cached = self._blobs.load_blob(sha) if self._blobs is not None else None
        if cached is not None and _cached_frame_ok(cached):
            self._write_encoded(FrameKind.BLOB, 0, cached)
            return
        raw = msgpack.packb({"kind": "module", "sha256": sha, "data": module},
                            use_bin_type=True)
        payload = self._cctx.compress(raw)
        head = encode_frame_header(FrameKind.BLOB, Codec.ZSTD, 0, 0, len(raw), payload)
        self._write_encoded(FrameKind.BLOB, len(raw), head, payload)
        if self._blobs is not None and self._error is None:
            self._blobs.store_blob(sha, head + payload)

    # -- appending ---------------------------------------------------------------------
    def function_id(self, module: str, name: str) -> int:
        """The number of ``module::name`` in this journal (``KeyError`` if the header
        does not list it)."""
        return self._fids[f"{module}::{name}"]

    def digest(self, data: bytes, keep: bool = False) -> bytes | InputDigest:
        """``data`` as it should be journaled as an input: itself, or its digest
        when longer than the threshold (``keep`` forces the bytes: stdout/stderr)."""
        if keep or self.threshold is None or len(data) <= self.threshold:
            return data
        return InputDigest.of(data)

    def pull(self) -> None:
        """Move the tail's records into ``buf`` (before anything else is appended,
        so the journal keeps their order); cut a frame when ``buf`` is full."""
        if self.tail is None:
            return
        with self._lock:
            self._pull_locked()
        if len(self.buf) >= self.limit:
            self.flush_full()

    def _pull_locked(self) -> None:
        tail = self.tail
        if tail is not None:
            data = tail.pending()
            if data:
                self.buf += data
            tail.reset()

    def write_call(self, call: Call, *, keep_inputs: bool = False) -> None:
        """Append one syscall (the generic path: irregular calls, tools, tests)."""
        self._check_open()
        if self.tail is not None:
            self.pull()
        fid = self.function_id(call.module, call.name)
        flags = call.stdio if call.stdio in (1, 2) else 0
        keep = keep_inputs or flags != 0  # bytes that reached stdout/stderr stay in full
        try:
            inputs = [(a, d if isinstance(d, InputDigest) else self.digest(d, keep))
                      for a, d in call.inputs]
            self.buf += encode_call(fid, call.params, inputs, call.errno, call.writes, flags)
        except (TypeError, ValueError, OverflowError) as exc:
            raise JournalWriteError(f"journal {self.path}: a call could not be encoded "
                                    f"({exc})") from exc
        self.calls_written += 1
        if len(self.buf) >= self.limit:
            self.flush_full()

    def write_event(self, event: Event) -> None:
        """Append a process event; each one is written out at once (except ``ctx``,
        which only marks where the next syscalls belong)."""
        self._check_open()
        if self.tail is not None:
            self.pull()
        self.buf += encode_event(event_to_wire(event))
        self.events_written += 1
        if not isinstance(event, CtxEvent):
            self.flush()

    def set_process(self, pid: int, next_seq: int) -> None:
        """The following syscalls belong to process ``pid`` from ``next_seq`` on."""
        self.write_event(CtxEvent(pid, next_seq))

    def start(self, event: StartEvent) -> None:
        self.write_event(event)

    def flush_full(self) -> None:
        """Called by recorders when ``len(buf) >= limit``: cut a frame now."""
        with self._lock:
            self._write_buffer()
        self._raise_pending()

    # -- frames (with _lock held) -----------------------------------------------------
    def _write_buffer(self) -> None:
        self._pull_locked()
        raw = bytes(self.buf[self._taken:]) if self._taken else bytes(self.buf)
        del self.buf[:]
        self._taken = 0
        if raw:
            self._write_frame(FrameKind.ENTRIES, self._frames, raw)
            self._frames += 1
        self._last_frame = time.monotonic()

    def _complete_end(self) -> int:
        """Offset just past the last complete record in the buffer (timer thread)."""
        buf = self.buf
        end = len(buf)
        pos = self._taken
        while pos + HEADER_SIZE <= end:
            size = U32.unpack_from(buf, pos)[0]
            if size < HEADER_SIZE or pos + size > end:
                break
            pos += size
        return pos

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._stop.is_set():
                    return
                if time.monotonic() - self._last_frame < self._interval:
                    continue
                whole = self._complete_end()
                raw = bytes(self.buf[self._taken:whole])
                if whole == len(self.buf) and self.tail is not None:
                    raw += self.tail.pending(timer=True)  # the tail's follow buf's
                if not raw:
                    continue
                self._write_frame(FrameKind.ENTRIES, self._frames, raw)
                self._frames += 1
                self._taken = whole
                self._last_frame = time.monotonic()

    def _write_frame(self, kind: int, first: int, raw: bytes) -> None:
        codec = Codec.STORED
        payload = raw
        if len(raw) >= 64:
            z = self._cctx.compress(raw)
            if len(z) < len(raw):
                payload, codec = z, Codec.ZSTD
        self._write_payload(kind, first, codec, len(raw), payload)

    def _write_payload(self, kind: int, first: int, codec: int, raw_len: int,
                       payload: bytes) -> None:
        if self._error is not None:
            return
        if len(payload) > 0xFFFF_FFFF or raw_len > 0xFFFF_FFFF:
            self._error = JournalWriteError("a single frame exceeds 4 GiB")
            return
        self._write_encoded(kind, raw_len,
                            encode_frame_header(kind, codec, 0, first, raw_len, payload), payload)

    def _write_encoded(self, kind: int, raw_len: int, *parts: bytes) -> None:
        """Append one encoded frame given in parts (header and payload are written
        one after the other rather than joined: a join copies the whole payload)."""
        if self._error is not None:
            return
        try:
            for part in parts:
                self._f.write(part)
            self._f.flush()
            size = sum(len(part) for part in parts)
            self._good_offset += size
            if kind == FrameKind.ENTRIES:
                self.raw_bytes += raw_len
                self.disk_bytes += size
        except (OSError, ValueError) as exc:
            self._error = exc
            try:  # keep the file consistent: drop the partial frame
                self._f.truncate(self._good_offset)
                self._f.seek(self._good_offset)
            except (OSError, ValueError):
                pass

    def _raise_pending(self) -> None:
        err = self.failed
        if err is not None:
            raise err from (self._error if self._error is not err else None)

    def _check_open(self) -> None:
        if self._closed:
            raise JournalWriteError(f"journal {self.path} is closed")

    # -- public flushing / lifetime ------------------------------------------------------
    @property
    def failed(self) -> JournalWriteError | None:
        """The write error that stopped this writer, if any (the file ends before it)."""
        err = self._error
        if err is None or isinstance(err, JournalWriteError):
            return err
        detail = getattr(err, "strerror", None) or str(err)
        return JournalWriteError(f"cannot write journal {self.path}: {detail}")

    def flush(self) -> None:
        """Write everything appended so far as a frame, now (then it survives a kill)."""
        self._check_open()
        with self._lock:
            self._write_buffer()
        self._raise_pending()

    def close(self, *, syscalls: int | None = None, fsync: bool = False,
              summary: dict[str, Any] | None = None) -> None:
        """Flush, write the END frame (``syscalls``: how many call records the
        journal holds, counted by the recorder; default: those of ``write_call``)
        and close the file."""
        if self._closed:
            return
        try:
            self._stop_thread()
            with self._lock:
                self._write_buffer()
                end = {"frames": self._frames,
                       "syscalls": (syscalls if syscalls is not None
                                    else None if self.direct else self.calls_written),
                       "events": self.events_written, "raw_bytes": self.raw_bytes,
                       "wall_ns": time.monotonic_ns() - self._t0, **(summary or {})}
                self._write_frame(FrameKind.END, self._frames, msgpack.packb(end))
            self._raise_pending()
            if fsync:
                os.fsync(self._f.fileno())
        except OSError as exc:
            raise JournalWriteError(f"cannot write journal {self.path}: {exc}") from exc
        finally:
            self._closed = True
            self.tail = None
            try:
                self._f.close()
            except OSError:
                pass

    def abort(self) -> None:
        """Stop without an END frame: the file then reads as truncated. Records
        already appended are written first, so the prefix is as long as it can be."""
        if self._closed:
            return
        self._stop_thread()
        with self._lock:
            self._write_buffer()
        self._closed = True
        self.tail = None
        try:
            self._f.close()
        except OSError:
            pass

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def encode_calls(calls: Sequence[Call], functions: Sequence[str]) -> bytes:
    """Records for ``calls`` (tests and tools building journals by hand)."""
    fids = {name: i for i, name in enumerate(functions)}
    return b"".join(encode_call(fids[f"{c.module}::{c.name}"], c.params, c.inputs, c.errno,
                                c.writes, c.stdio) for c in calls)
