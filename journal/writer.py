"""``JournalWriter``: streams entries into a crash-safe, compressed journal file.

Hot path (once per guest syscall): ``write_call`` takes a call already split in
its fields with its function id (``function_id``, looked up once by the
recorder; ``write_record``/``write_syscall`` look it up by name and call it),
turns a call equal to its function's previous one but for the written bytes into
a *repeat* entry, msgpack-packs one tuple and appends the bytes to a
``bytearray``. Nothing of the caller's objects is kept alive but the last entry
of each function, no lock is taken.

Hotter still, the recorder's *lanes* (``host/recordpath.py``) append repeat
entries themselves, in the wasmtime callback: ``repeat_state(fid)`` says when a
repeat may follow, ``repeat_prefixes`` gives the pre-encoded bytes up to the
data, ``lane_buffer`` the buffer, and the lanes count lazily: ``lane_account``
folds their entries into the sequence and entry counters every few thousand
entries or when ``attach_lanes``' sync runs (before every cold entry point of
this class). A repeated ``clock_time_get`` then costs ~0.15 µs of CPU over a
plain run, a repeated 16-byte ``fd_write``/``fd_read`` nothing measurable
(bench/record_cost.py).

Every ``_CHECK`` entries (adaptively fewer for a slow guest) the writer looks at
the buffer size and the clock; at ``frame_bytes`` of raw entries or after
``flush_interval`` seconds it compresses the buffer with zstd and appends one
checksummed frame with a single ``write`` + ``flush``. Level 1 by default: on a
clock loop's entries it costs ~27 ns per entry against level 3's ~55 ns for the
same 2.06 bytes per call, and on bench/journal_size.py's other streams 13-30%
less writer CPU for 0-7% bigger frames (recording's cost is what users feel;
the journal is 4-6x smaller than its raw entries either way). Frames are ~1 MiB raw, which gives zstd enough context to turn a
repeated call into a ~1-byte match plus the bytes that really changed:
~2.1 bytes per ``clock_time_get`` (bench/journal_size.py). Delta-encoding params
and addresses by hand saved ~0.2 byte per call for ~1 µs of Python per call, so
the format does not do it.

A guest that goes quiet (blocked in ``poll_oneoff``, waiting on stdin) makes no
calls that would trigger a flush, so a timer thread wakes every
``flush_interval`` and writes out whatever is buffered: it copies the buffer's
not-yet-written part (one C call under the GIL; only whole entries are ever
appended, each with one ``extend``), counts its entries and remembers how much
it took; the hot path itself never locks.

Guarantees: bounded memory (one frame's buffer); a writer killed at any point
leaves a file readable up to its last complete frame; on a write error the
partial frame is cut off and ``JournalWriteError`` is raised by the next flush
point, ``write_event``, ``flush`` or ``close``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import msgpack
import zstandard

from .codec import KIND_CTX, KIND_FN, digest_ext, event_to_wire, make_unpacker, pack_default
from .entries import FORMAT_MAJOR, FORMAT_MINOR, InputDigest, JournalHeader, StartEvent
from .errors import JournalWriteError
from .framing import FILE_MAGIC, PREFIX, Codec, FrameKind, encode_frame_header
from .header import header_to_wire

DEFAULT_FRAME_BYTES = 1 << 20
DEFAULT_FLUSH_INTERVAL = 0.25
DEFAULT_LEVEL = 1
DEFAULT_INPUT_HASH_THRESHOLD = 4096
_CHECK = 4096
"""Entries between two looks at the buffer size and the clock (at most)."""
_BIG = 4096
"""An entry carrying this many bytes triggers a check at once: between two checks
the buffer grows by at most ``check_every`` entries of less than this (16 MiB)."""


def _digested(inputs: Sequence[Any], thr: int) -> list[Any]:
    """Inputs with every buffer longer than ``thr`` replaced by its digest."""
    return [digest_ext(b) if len(b) > thr and not isinstance(b, InputDigest) else b
            for b in inputs]


_BIN8_HEADERS: tuple[bytes, ...] = tuple(bytes((0xC4, n)) for n in range(256))
"""msgpack ``bin8`` headers by length (an immutable table)."""


def _repeat_prefixes(fid: int, array_head: bytes) -> list[bytes]:
    """By data length (< 256): the msgpack bytes of a repeat entry of ``fid`` up to
    its first data (array header, ``~fid``, ``bin8`` header), as ``pack`` makes them."""
    head = array_head + msgpack.packb(~fid)
    return [head + b for b in _BIN8_HEADERS]


def _no_lanes() -> None:
    """``JournalWriter._lane_sync`` while no recorder lanes are attached."""


class JournalWriter:
    """Writes one journal file. Use as a context manager, or call ``close()``.

    ``module`` (the wasm bytes) is embedded as a content-addressed blob unless it is
    None; the header's ``module_sha256``/``module_size``/``module_embedded`` are
    filled in from it. ``input_hash_threshold``: inputs longer than this are stored
    as (length, sha256) unless kept in full (``write_syscall(full_inputs=True)``, or
    ``keep_full_inputs``); None keeps everything. ``keep_full_inputs`` maps a
    function name to the values of its first param (fds) whose inputs
    ``write_record`` always keeps in full (stdout/stderr).
    ``check_every`` bounds the entries between two size/clock checks (tests use
    small values to get many frames). ``background=False`` starts no timer thread:
    frames are then cut only by size, age at a check, events, ``flush`` and
    ``close`` (deterministic boundaries for tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: JournalHeader,
        *,
        module: bytes | None = None,
        level: int = DEFAULT_LEVEL,
        frame_bytes: int = DEFAULT_FRAME_BYTES,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        input_hash_threshold: int | None = DEFAULT_INPUT_HASH_THRESHOLD,
        keep_full_inputs: Mapping[str, Collection[int]] | None = None,
        check_every: int = _CHECK,
        background: bool = True,
    ) -> None:
        self.path = Path(path)
        self._max_check = max(1, check_every)
        self._keep_full = {k: frozenset(v) for k, v in (keep_full_inputs or {}).items()}
        self._frame_bytes = frame_bytes
        self._interval = flush_interval
        self._thr = input_hash_threshold
        self._closed = False
        self._t0 = time.monotonic_ns()
        if module is not None:
            sha = hashlib.sha256(module).hexdigest()
            if header.module_sha256 and header.module_sha256 != sha:
                raise ValueError("header.module_sha256 does not match the module bytes")
            header.module_sha256 = sha
            header.module_size = len(module)
        header.module_embedded = module is not None
        header.input_hash_threshold = input_hash_threshold
        header.format_version = (FORMAT_MAJOR, FORMAT_MINOR)
        if not header.created_unix_ns:
            header.created_unix_ns = time.time_ns()
        if not header.wasi_rr_version:
            from wasi_rr import __version__

            header.wasi_rr_version = __version__
        self.header = header
        # frame side (guarded by _lock; the hot path never takes it)
        self._lock = threading.Lock()
        self._cctx = zstandard.ZstdCompressor(level=level)
        self._error: BaseException | None = None
        self._first = 0              # object index of the next frame's first object
        self._taken = 0              # buffer bytes already written by the timer
        self._taken_count = 0        # ... and how many objects they held
        self._last_frame = time.monotonic()
        self.raw_bytes = 0
        self.disk_bytes = 0
        try:
            self._f: BinaryIO = open(self.path, "wb")
            self._f.write(PREFIX.pack(FILE_MAGIC, FORMAT_MAJOR, FORMAT_MINOR))
            self._f.flush()
        except OSError as exc:
            raise JournalWriteError(
                f"cannot write journal {self.path}: {exc.strerror or exc}") from exc
        self._good_offset = PREFIX.size
        self._write_frame(FrameKind.HEADER, 0, 0,
                          msgpack.packb(header_to_wire(header), use_bin_type=True))
        if module is not None:
            self._write_frame(FrameKind.BLOB, 0, 0, msgpack.packb(
                {"kind": "module", "sha256": header.module_sha256, "data": module},
                use_bin_type=True))
        if self._error is not None:
            self._f.close()
            self._raise_pending()
        # entry side (the caller's thread only)
        self._buf = bytearray()
        """Encoded entries not yet in a frame. Only whole entries are ever appended
        (each ``extend`` is one C call under the GIL), so the timer thread can take
        it at any moment; cleared in place (lanes hold its ``extend``)."""
        packb = msgpack.Packer(use_bin_type=True, autoreset=True, default=pack_default).pack
        extend = self._buf.extend

        def pack(obj: Any) -> None:
            extend(packb(obj))
        self._pack = pack
        self._packb = packb  # the hot path inlines ``pack``: extend(packb(obj))
        self._extend = extend
        self._n = 0                  # objects in the buffer since its last reset
        self._step = self._max_check
        self._check_at = self._max_check
        self._last_check_n = 0
        self._last_check = time.monotonic()
        self._fids: dict[str, int] = {}
        self._fkeys: dict[tuple[str, str], int] = {}
        self._fmods: list[str] = []
        self._fkeep: list[frozenset[int] | None] = []
        """Per function: the first-param values whose inputs are kept in full."""
        self._last: list[tuple[Any, ...] | None] = []
        """Per function: (params, raw inputs, errno, write address(es), full_inputs) of
        its last full entry with at most two writes: a call equal to it but for the
        written bytes is journaled as a repeat entry."""
        self._pid = 0
        self._seq = 0
        self._lane_sync: Callable[[], None] = _no_lanes
        """The recorder's lane sync (``attach_lanes``), run before cold entry points."""
        self._aux_objects = 0        # fn/ctx/event objects (syscalls = objects - aux)
        self.events_written = 0
        # timer thread: writes out a quiet guest's entries
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background and flush_interval > 0:
            self._thread = threading.Thread(target=self._run, name="wasi-rr-journal",
                                            daemon=True)
            self._thread.start()

    # -- hot path -------------------------------------------------------------------
    def write_record(self, record: Any) -> None:
        """Append one syscall from any object with the ``SyscallRecord`` attributes.

        (``seq, module, name, params, inputs, errno, writes``; duck-typed so the
        journal needs nothing from the host layer.) Same as ``write_syscall`` with
        ``seq=record.seq``; inputs of calls listed in ``keep_full_inputs`` are kept
        in full when their first param matches.
        """
        name = record.name
        fid = self._fids.get(name)
        if fid is None or self._fmods[fid] != record.module:
            fid = self._define(record.module, name)
        self.write_call(fid, record.seq, record.params, record.inputs, record.errno,
                        record.writes)

    def function_id(self, module: str, name: str) -> int:
        """The id of ``module::name`` (defined in the journal now if new), for
        ``write_call`` and the lane protocol: a recorder that knows which function it
        serves looks it up once instead of once per call."""
        self._check_open()
        return self._define(module, name)

    def write_call(self, fid: int, seq: int, params: Sequence[int], inputs: Sequence[Any],
                   errno: int, writes: Sequence[tuple[int, bytes]],
                   full_inputs: bool | None = None) -> None:
        """Append one syscall of function ``fid`` (from ``function_id``), already split
        into its fields: the recorder's fast path, no record object in between.

        ``full_inputs`` None keeps inputs in full as ``keep_full_inputs`` says for
        this function and its first param; True/False force it (``write_syscall``).
        """
        if seq != self._seq:
            self._set_seq(seq)
        self._seq = seq + 1
        size = 0
        try:
            if full_inputs is None:
                fds = self._fkeep[fid]
                full = fds is not None and bool(params) and params[0] in fds
            else:
                full = full_inputs
            nw = len(writes)
            a: Any
            if nw < 3:  # candidates for a repeat entry (clock and read loops...)
                if nw == 1:
                    a, d = writes[0]
                    size = len(d)
                elif nw == 0:
                    a = None
                else:
                    (a0, d0), (a1, d1) = writes
                    a = (a0, a1)
                    size = len(d0) + len(d1)
                prev = self._last[fid]
                if (prev is not None and prev[3] == a and prev[0] == params
                        and prev[2] == errno and prev[1] == inputs and prev[4] == full):
                    self._extend(self._packb((~fid, d) if nw == 1 else (~fid,) if nw == 0
                                             else (~fid, d0, d1)))
                    self._n = n = self._n + 1
                    if n >= self._check_at or size >= _BIG:
                        self._check()
                    return
                self._last[fid] = (params, inputs, errno, a, full)
            else:
                self._last[fid] = None
                for w in writes:
                    size += len(w[1])
            if inputs:
                isize = 0
                for b in inputs:
                    isize += len(b)
                size += isize
                thr = self._thr
                if thr is not None and isize > thr and not full:
                    inputs = _digested(inputs, thr)
            self._extend(self._packb((fid, params, errno, inputs, writes)))
        except (TypeError, ValueError, OverflowError, IndexError) as exc:
            self._pack_failed(exc)
        self._n = n = self._n + 1
        if n >= self._check_at or size >= _BIG:
            self._check()

    # -- lanes: repeat entries appended in line by the recorder (host/recordpath.py) ----
    def repeat_state(self, fid: int) -> tuple[Any, ...] | None:
        """``(params, inputs, errno, write address(es), full)`` of ``fid``'s last full
        entry when a repeat of it may follow (it succeeded, had at most two writes
        and kept its inputs the way ``write_call`` would for its params), else None.

        A recorder lane appends a repeat of ``fid`` for a call with exactly these
        params and inputs, errno 0 and writes at these addresses; the state only
        changes when an entry of ``fid`` goes through ``write_call``.
        """
        prev = self._last[fid]
        if prev is None or prev[2]:
            return None
        keep = self._fkeep[fid]
        params = prev[0]
        if prev[4] != (keep is not None and bool(params) and params[0] in keep):
            return None
        return prev

    def repeat_prefixes(self, fid: int, writes: int) -> list[bytes]:
        """By length of the first written data (< 256): the msgpack bytes of a repeat
        entry of ``fid`` with ``writes`` (1 or 2) writes, up to that data. The
        entry is byte for byte what ``write_call`` packs (tested), so the format
        does not change; the second data of a two-write repeat follows as a
        ``bin8`` (``b"\\xc4" + bytes([len])``) and its bytes."""
        if writes not in (1, 2):
            raise ValueError("a repeat lane carries one or two writes")
        return _repeat_prefixes(fid, b"\x92" if writes == 1 else b"\x93")

    def lane_buffer(self) -> bytearray:
        """The buffer lanes append whole repeat entries to (cleared in place, never
        replaced). Appending is only allowed between ``attach_lanes``' sync calls,
        and each entry must then be accounted with ``lane_account``."""
        return self._buf

    def attach_lanes(self, sync: Callable[[], None]) -> None:
        """Register the recorder's lane ``sync``: the writer calls it before it reads
        its counters or appends anything itself from a method that a lane did not
        call (events, ``set_process``, ``write_syscall``, ``flush``, ``close``,
        ``abort``, the counters). ``write_call``/``write_record`` do not call it:
        the recorder syncs before each of those (they are its hot path)."""
        self._lane_sync = sync

    def lane_account(self, count: int, check: bool) -> int:
        """Account ``count`` repeat entries a lane appended (they take the next
        sequence numbers); with ``check``, look at the buffer size and the clock
        now (may cut a frame). Returns how many more lane entries may be appended
        before the next check is due (at least 1)."""
        self._seq += count
        self._n += count
        if check or self._n >= self._check_at:
            self._check()
        return max(1, self._check_at - self._n)

    def write_syscall(
        self,
        module: str,
        name: str,
        params: Sequence[int],
        inputs: Sequence[bytes],
        errno: int,
        writes: Sequence[tuple[int, bytes]],
        *,
        seq: int | None = None,
        full_inputs: bool = False,
    ) -> None:
        """Append one syscall. ``seq`` defaults to the next number for the process.

        ``full_inputs`` keeps every input in full regardless of the threshold (used
        for writes to stdout/stderr, so the journal holds the guest's output).
        Arguments must be ``bytes``/ints/sequences of them (they are encoded now).
        """
        self._lane_sync()
        fid = self._fids.get(name)
        if fid is None or self._fmods[fid] != module:
            fid = self._define(module, name)
        self.write_call(fid, self._seq if seq is None else seq, params, inputs, errno,
                        writes, full_inputs)

    def _pack_failed(self, exc: BaseException) -> None:
        """An entry could not be encoded (a caller bug: not bytes/ints).

        msgpack empties its buffer when ``pack`` fails, so the entries since the
        last frame are gone: the writer stops for good rather than write a journal
        with a silent hole. The file stays readable up to its last frame.
        """
        del self._buf[:]  # nothing more will be written
        err = JournalWriteError(f"journal {self.path}: an entry could not be encoded "
                                f"({exc}); the journal ends at its last complete frame")
        with self._lock:
            self._error = err
        raise err from exc

    def _set_seq(self, seq: int) -> None:
        self._pack((KIND_CTX, self._pid, seq))
        self._n += 1
        self._aux_objects += 1

    def _define(self, module: str, name: str) -> int:
        fid = self._fkeys.get((module, name))
        if fid is None:
            fid = len(self._fmods)
            self._fmods.append(module)
            self._fkeys[(module, name)] = fid
            self._last.append(None)
            keep = self._keep_full.get(name)
            self._fkeep.append(keep)
            self._pack((KIND_FN, fid, module, name))
            self._n += 1
            self._aux_objects += 1
        self._fids[name] = fid  # the by-name fast path follows the latest module used
        return fid

    def _check(self) -> None:
        """Write a frame if the buffer is big or old; re-arm the next check."""
        now = time.monotonic()
        done = self._n - self._last_check_n
        since = now - self._last_check
        with self._lock:
            size = len(self._buf)
            if size - self._taken >= self._frame_bytes or now - self._last_frame >= self._interval:
                self._write_buffer()
        # Aim the next check about interval/4 ahead at the observed call rate, so a
        # slow guest still gets its entries written on time.
        if since > 0:
            self._step = max(1, min(self._max_check, int(done * (self._interval / 4) / since)))
        self._check_at = self._n + self._step
        self._last_check_n = self._n
        self._last_check = now
        self._raise_pending()

    def set_process(self, pid: int, next_seq: int) -> None:
        """Make the following syscalls belong to process ``pid``, starting at ``next_seq``
        (a ``ctx`` entry; several processes interleave their syscalls this way)."""
        self._check_open()
        self._lane_sync()
        if pid != self._pid or next_seq != self._seq:
            self._pid = pid
            self._set_seq(next_seq)
            self._seq = next_seq

    # -- events -----------------------------------------------------------------------
    def write_event(self, event: Any) -> None:
        """Append a process event (start, exit, trap); each one is written out at once."""
        self._check_open()
        self._lane_sync()
        self._pack(tuple(event_to_wire(event)))
        self._n += 1
        self._aux_objects += 1
        self.events_written += 1
        if isinstance(event, StartEvent):
            self._pid, self._seq = event.pid, 0
        self.flush()

    # -- frames (with _lock held) -----------------------------------------------------
    def _write_buffer(self) -> None:
        """Write the buffer's not-yet-written part as a frame and reset it."""
        raw = bytes(self._buf[self._taken:]) if self._taken else bytes(self._buf)
        count = self._n - self._taken_count
        del self._buf[:]
        self._n = 0
        self._check_at = self._step
        self._last_check_n = 0
        self._taken = 0
        self._taken_count = 0
        if count:
            self._write_frame(FrameKind.ENTRIES, count, self._first, raw)
            self._first += count
        self._last_frame = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._stop.is_set():
                    return
                if time.monotonic() - self._last_frame < self._interval:
                    continue
                new = bytes(self._buf[self._taken:])  # whole entries only (see _buf)
                if not new:
                    continue
                # Count the entries (the buffer only ever holds whole ones; ``whole``
                # stays as a guard).
                unpacker = make_unpacker(len(new))
                unpacker.feed(new)
                count = whole = 0
                for _ in unpacker:
                    count += 1
                    whole = unpacker.tell()  # after a partial object, tell() counts it too
                if not count:
                    continue
                self._write_frame(FrameKind.ENTRIES, count, self._first, new[:whole])
                self._first += count
                self._taken += whole
                self._taken_count += count
                self._last_frame = time.monotonic()

    def _write_frame(self, kind: int, count: int, first: int, raw: bytes) -> None:
        if self._error is not None:
            return
        try:
            codec = Codec.STORED
            payload = raw
            if len(raw) >= 64:
                z = self._cctx.compress(raw)
                if len(z) < len(raw):
                    payload, codec = z, Codec.ZSTD
            if len(payload) > 0xFFFF_FFFF or len(raw) > 0xFFFF_FFFF:
                raise JournalWriteError("a single frame exceeds 4 GiB")
            data = encode_frame_header(kind, codec, count, first, len(raw), payload) + payload
            self._f.write(data)
            self._f.flush()
            self._good_offset += len(data)
            if kind == FrameKind.ENTRIES:
                self.raw_bytes += len(raw)
                self.disk_bytes += len(data)
        except (OSError, ValueError, JournalWriteError) as exc:
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

    @property
    def syscalls_written(self) -> int:
        """Syscalls accepted so far."""
        if not self._closed:
            self._lane_sync()
        return self._first + self._n - self._taken_count - self._aux_objects

    @property
    def entries_written(self) -> int:
        """Syscalls plus events accepted so far (what a reader will yield)."""
        return self.syscalls_written + self.events_written

    def flush(self) -> None:
        """Write everything accepted so far as a frame, now (then it survives a kill)."""
        self._check_open()
        self._lane_sync()
        with self._lock:
            self._write_buffer()
        self._raise_pending()

    def close(self, *, fsync: bool = False) -> None:
        """Flush everything, write the END frame and close the file.

        ``fsync`` additionally asks the OS to put the bytes on stable storage.
        """
        if self._closed:
            return
        try:
            self._lane_sync()
            self._stop_thread()
            with self._lock:
                self._write_buffer()
                end = {
                    "objects": self._first,
                    "syscalls": self.syscalls_written,
                    "entries": self.entries_written,
                    "raw_bytes": self.raw_bytes,
                    "wall_ns": time.monotonic_ns() - self._t0,
                }
                self._write_frame(FrameKind.END, 0, self._first, msgpack.packb(end))
            self._raise_pending()
            if fsync:
                os.fsync(self._f.fileno())
        except OSError as exc:
            raise JournalWriteError(f"cannot write journal {self.path}: {exc}") from exc
        finally:
            self._mark_closed()
            try:
                self._f.close()
            except OSError:
                pass

    def abort(self) -> None:
        """Stop without an END frame: the file then reads as truncated (crashes, tests).

        Entries already accepted are written first, so the prefix is as long as it
        can be.
        """
        if self._closed:
            return
        try:
            self._lane_sync()
        except JournalWriteError:
            pass  # aborting anyway: keep what the buffer holds
        self._stop_thread()
        with self._lock:
            self._write_buffer()
        self._mark_closed()
        try:
            self._f.close()
        except OSError:
            pass

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def _mark_closed(self) -> None:
        self._closed = True
        # The hot path does not test a flag; a closed writer swaps the methods instead.
        self.write_syscall = self._write_after_close  # type: ignore[method-assign]
        self.write_record = self._write_after_close  # type: ignore[method-assign]

    def _write_after_close(self, *args: Any, **kwargs: Any) -> None:
        raise JournalWriteError(f"journal {self.path} is closed")

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
