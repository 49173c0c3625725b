"""Entry encoding inside ENTRIES frames, and the decoder that mirrors it.

An ENTRIES frame's payload is a concatenation of msgpack arrays. The first
element tells what the array is:

* a non-negative int ``fid`` — a syscall: ``[fid, params, errno, inputs, writes]``
  (see docs/journal-format.md for each field);
* a negative int ``~fid`` — a *repeat*: ``[~fid, data...]`` is a call of ``fid``
  with the params, inputs and errno of that function's last full entry, writing
  the given bytes to that entry's write addresses (a clock loop costs 12 bytes
  of msgpack per call instead of ~27, and half the CPU);
* a string — a named entry: ``["fn", fid, module, name]`` defines a function id,
  ``["ctx", pid, seq]`` sets the current process and next sequence number, and
  events (``"start"``, ``"exit"``, ``"trap"``, later kinds) carry a map.

Sequence numbers are implicit (one more than the previous syscall of the process).
The encoder side lives in ``writer.py`` (on the hot path, kept minimal); this
module holds the shared constants and the decoder.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Iterator
from typing import Any, Union

import msgpack

from .entries import (
    Entry,
    ExitEvent,
    ForkEvent,
    InputDigest,
    SnapshotEvent,
    StartEvent,
    SyscallEntry,
    TrapEvent,
)

EXT_DIGEST = 1
"""msgpack ext type of an input stored as (u64 length, 32-byte sha256)."""
_DIGEST = struct.Struct("<Q32s")

KIND_FN = "fn"
KIND_CTX = "ctx"
KIND_START = "start"
KIND_EXIT = "exit"
KIND_TRAP = "trap"
KIND_SNAPSHOT = "snap"
KIND_FORK = "fork"


def digest_ext(data: bytes) -> msgpack.ExtType:
    """The on-disk form of a hashed input."""
    return msgpack.ExtType(EXT_DIGEST, _DIGEST.pack(len(data), hashlib.sha256(data).digest()))


def pack_default(obj: Any) -> Any:
    """msgpack ``default`` hook: lets writers pass back ``InputDigest``s they read."""
    if isinstance(obj, InputDigest):
        return msgpack.ExtType(EXT_DIGEST, _DIGEST.pack(obj.length, obj.sha256))
    raise TypeError(f"cannot journal a {type(obj).__name__} (expected bytes or int)")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_DIGEST:
        if len(data) != _DIGEST.size:
            raise ValueError(f"input digest of {len(data)} bytes")
        length, digest = _DIGEST.unpack(data)
        return InputDigest(length, digest)
    # An ext type of a newer minor version (inside an entry kind we skip, most
    # likely): kept opaque rather than failing the whole frame.
    return msgpack.ExtType(code, data)


def event_to_wire(event: StartEvent | ExitEvent | TrapEvent | SnapshotEvent | ForkEvent
                  ) -> list[Any]:
    """Encode an event as ``[kind, {fields}]`` (maps so minor versions can add keys)."""
    if isinstance(event, StartEvent):
        return [KIND_START, {"pid": event.pid, "argv": list(event.argv),
                             "time_unix_ns": event.time_unix_ns}]
    if isinstance(event, ExitEvent):
        return [KIND_EXIT, {"pid": event.pid, "status": event.status,
                            "elapsed_ns": event.elapsed_ns}]
    if isinstance(event, TrapEvent):
        return [KIND_TRAP, {"pid": event.pid, "message": event.message,
                            "elapsed_ns": event.elapsed_ns}]
    if isinstance(event, SnapshotEvent):
        return [KIND_SNAPSHOT, {"pid": event.pid, "id": event.id, "seq": event.seq,
                                "trigger": event.trigger, "snapshot": event.snapshot,
                                "fs": event.fs, "base": event.base,
                                "module_sha256": event.module_sha256,
                                "time_unix_ns": event.time_unix_ns, "extra": event.extra}]
    if isinstance(event, ForkEvent):
        return [KIND_FORK, {"pid": event.pid, "child": event.child, "seq": event.seq}]
    raise TypeError(f"not a journal event: {event!r:.80}")


BATCH = 4096
"""Items per decoded batch (``FrameDecoder.decode_batches``)."""
RawItem = Union[tuple[Any, ...], Entry]
"""What ``FrameDecoder.decode_batch`` yields: a syscall as a plain tuple in
``SyscallEntry`` field order, or a typed event."""


class FrameDecodeError(Exception):
    """The payload of a frame (whose checksum matched) does not follow the format."""


def make_unpacker(max_size: int) -> msgpack.Unpacker:
    return msgpack.Unpacker(
        None, raw=False, use_list=False, strict_map_key=False, ext_hook=_ext_hook,
        max_buffer_size=max(max_size, 1024),
    )


class FrameDecoder:
    """Decodes the frames of one journal in order, carrying state across frames.

    Function ids, the current pid and the next sequence number persist from frame
    to frame (the writer's background thread cuts frames wherever it likes), so
    frames must be decoded in file order. ``skipped`` counts entries of kinds this
    reader does not know (written by a newer minor version), skipped as promised.
    """

    def __init__(self) -> None:
        self.pid = 0
        self.seq = 0
        self.skipped = 0
        self._fns: list[tuple[str, str]] = []
        self._last: list[list[Any] | None] = []
        """Per function: params, inputs, errno, writes of its last full entry, and
        (computed at its first repeat) that entry's write addresses."""
        self._rep1: dict[int, list[Any]] = {}
        """By repeat tag ``~fid``: module, name, params, inputs, errno and the two
        write addresses (the second None if it has one write) of the function's
        last full entry, once a repeat of it was decoded and that entry has one or
        two writes (the hot case: a repeat becomes one tuple without ``_last``);
        then the last repeat's writes tuple and its data (shared while the data
        stays the same)."""

    def decode(self, raw: bytes, count: int) -> Iterator[Entry]:
        """Yield the typed entries of one frame payload of ``count`` msgpack objects."""
        for batch in self.decode_batches(raw, count):
            for item in batch:
                yield SyscallEntry(*item) if isinstance(item, tuple) else item

    def decode_batches(self, raw: bytes, count: int,
                       size: int = BATCH) -> Iterator[list[RawItem]]:
        """Decode one frame payload in lists of at most ``size`` items; a decoding
        error is raised (``FrameDecodeError``) after the list of the items before it.

        A syscall is a plain tuple in ``SyscallEntry`` field order (``SyscallEntry(*t)``
        builds the entry): replay's fast path consumes these without one object
        per call; events are typed entries as in ``decode``. Lists are bounded so
        memory stays bounded by the frame, not by its decoded Python objects.
        """
        # Incremental on purpose: one ``unpackb`` of the whole frame (behind an
        # array header) was measured slower, as every decoded object stays alive
        # to the frame's end and the extra live containers trigger more GC passes.
        objs = make_unpacker(len(raw))
        objs.feed(raw)
        fns = self._fns
        last = self._last
        rep1 = self._rep1
        out: list[RawItem] = []
        append = out.append
        seen = 0
        seq = self.seq
        pid = self.pid
        try:
            for obj in objs:
                seen += 1
                if type(obj) is not tuple or not obj:
                    raise FrameDecodeError(f"entry is not a non-empty array: {obj!r:.80}")
                head = obj[0]
                if type(head) is int:
                    if head < 0 and (c := rep1.get(head)) is not None:
                        # the hot case: a repeat of a one- or two-write call
                        # data equal to the previous repeat's (a loop writing the
                        # same nwritten, reading the same bytes) shares its writes
                        # tuple: fewer allocations, fewer garbage collections
                        if c[6] is None:
                            if len(obj) != 2 or type(d := obj[1]) is not bytes:
                                raise FrameDecodeError(f"bad repeat entry {obj!r:.40}")
                            if d != c[8]:
                                c[7] = ((c[5], d),)
                                c[8] = d
                        else:
                            if len(obj) != 3 or type(d := obj[1]) is not bytes \
                                    or type(d1 := obj[2]) is not bytes:
                                raise FrameDecodeError(f"bad repeat entry {obj!r:.40}")
                            if d != c[8] or d1 != c[9]:
                                c[7] = ((c[5], d), (c[6], d1))
                                c[8] = d
                                c[9] = d1
                        append((seq, c[0], c[1], c[2], c[3], c[4], c[7], pid))
                        seq += 1
                        if len(out) >= size:
                            self.seq, self.pid = seq, pid
                            yield out
                            out = []
                            append = out.append
                        continue
                    if head >= 0:
                        fid, params, errno, inputs, writes = obj[:5]
                        module, name = fns[fid]
                        last[fid] = [params, inputs, errno, writes, None]
                        rep1.pop(~fid, None)
                    else:  # repeat: same params/inputs/errno/addresses, new data
                        fid = ~head
                        module, name = fns[fid]
                        state = last[fid]
                        if state is None:
                            raise FrameDecodeError("repeat entry without a previous call")
                        params, inputs, errno, ref_writes, addrs = state
                        if addrs is None:
                            addrs = state[4] = tuple([w[0] for w in ref_writes])
                            if len(addrs) == 1:
                                rep1[head] = [module, name, params, inputs, errno, addrs[0],
                                              None, None, None, None]
                            elif len(addrs) == 2:
                                rep1[head] = [module, name, params, inputs, errno, *addrs,
                                              None, None, None]
                        n = len(obj)
                        if n == 2 and len(addrs) == 1:
                            d = obj[1]
                            if type(d) is not bytes:
                                raise FrameDecodeError(f"bad repeat data {d!r:.40}")
                            writes = ((addrs[0], d),)
                        elif n == 3 and len(addrs) == 2:
                            d, d1 = obj[1], obj[2]
                            if type(d) is not bytes or type(d1) is not bytes:
                                raise FrameDecodeError(f"bad repeat data {obj!r:.40}")
                            writes = ((addrs[0], d), (addrs[1], d1))
                        else:
                            data = obj[1:]
                            if len(data) != len(addrs):
                                raise FrameDecodeError(
                                    "repeat entry with a different write count")
                            for d in data:
                                if type(d) is not bytes:
                                    raise FrameDecodeError(f"bad repeat data {d!r:.40}")
                            writes = tuple(zip(addrs, data))
                    append((seq, module, name, params, inputs, errno, writes, pid))
                    seq += 1
                    if len(out) >= size:
                        self.seq, self.pid = seq, pid
                        yield out
                        out = []
                        append = out.append
                elif type(head) is str:
                    self.seq, self.pid = seq, pid
                    ev = self._named(head, obj)
                    seq, pid = self.seq, self.pid
                    if ev is not None:
                        append(ev)
                else:
                    raise FrameDecodeError(f"bad entry tag {head!r:.40}")
        except FrameDecodeError as exc:
            self.seq, self.pid = seq, pid
            error: FrameDecodeError | None = exc
        except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException) as exc:
            self.seq, self.pid = seq, pid
            error = FrameDecodeError(f"undecodable entry: {exc}")
            error.__cause__ = exc
        else:
            self.seq, self.pid = seq, pid
            error = None
            if seen != count:
                error = FrameDecodeError(f"frame holds {seen} entries, header says {count}")
        if out:
            yield out
        if error is not None:
            raise error

    def _named(self, kind: str, obj: tuple[Any, ...]) -> Entry | None:
        if kind == KIND_FN:
            fid, module, name = obj[1], obj[2], obj[3]
            if fid != len(self._fns) or type(module) is not str or type(name) is not str:
                raise FrameDecodeError(f"bad function definition {obj!r:.80}")
            # interned: the replay fast path compares them with the adapter's
            # names, and identical objects compare without reading the text
            self._fns.append((sys.intern(module), sys.intern(name)))
            self._last.append(None)
            return None
        if kind == KIND_CTX:
            self.pid, self.seq = int(obj[1]), int(obj[2])
            return None
        if kind == KIND_START:
            m = obj[1]
            self.pid, self.seq = m["pid"], 0
            return StartEvent(m["pid"], tuple(m.get("argv", ())), m.get("time_unix_ns", 0))
        if kind == KIND_EXIT:
            m = obj[1]
            return ExitEvent(m["pid"], m["status"], m.get("elapsed_ns", 0))
        if kind == KIND_TRAP:
            m = obj[1]
            return TrapEvent(m["pid"], m["message"], m.get("elapsed_ns", 0))
        if kind == KIND_SNAPSHOT:
            m = obj[1]
            return SnapshotEvent(m["pid"], m["id"], m["seq"], m["trigger"], m["snapshot"],
                                 m["fs"], m.get("base"), m.get("module_sha256", ""),
                                 m.get("time_unix_ns", 0), dict(m.get("extra") or {}))
        if kind == KIND_FORK:
            m = obj[1]
            return ForkEvent(m["pid"], m["child"], m.get("seq", 0))
        self.skipped += 1
        return None
