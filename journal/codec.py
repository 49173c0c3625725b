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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Union, overload

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
"""Syscall items per decoded batch (``FrameDecoder.decode_batches``)."""


@dataclass(slots=True)
class RepeatTemplate:
    """What the full entry a repeat refers to fixed: everything but the written
    bytes. ``addrs`` are that entry's write addresses; a repeat item
    ``(~fid, data0, ...)`` writes ``data_k`` at ``addrs[k]``. One template
    object per full entry (made when its first repeat is decoded), so consumers
    can cache what they derived from it by identity. Treat it as read-only (not
    ``frozen``: that made it several times dearer to build, see ``SyscallEntry``)."""

    module: str
    name: str
    params: tuple[int, ...]
    inputs: tuple[Any, ...]
    errno: int
    addrs: tuple[int, ...]


MIN_RUN = 16
"""Shortest run of identically encoded repeats decoded as a ``RepeatRun``."""
RUN_RETRY = 256
"""Calls after a failed look for a run before the next look for the same tag."""
ALIAS_BASE = -(1 << 40)
"""Batch keys of templates whose tag is taken count down from here (far below
any ``~fid``)."""


@dataclass(frozen=True, slots=True)
class RepeatRun:
    """``count`` consecutive repeats with the tag ``head``, kept as their msgpack
    bytes (``data``, ``step`` bytes each): repeat ``k``'s data ``j`` is
    ``data[k * step + offsets[j][0]:][:offsets[j][1]]``. Each is exactly the
    encoding of a repeat array (the decoder matched it byte for byte against the
    repeat before it, data aside), and no data is empty, so a slice past the
    run's end is always shorter than the data it stands for.
    """

    head: int
    data: bytes = field(repr=False)
    step: int = 0
    offsets: tuple[tuple[int, int], ...] = ()
    count: int = 0
    same: tuple[bytes, ...] | None = None
    """The data of every repeat when they are all equal (a loop writing the same
    count, reading the same bytes): a consumer can then skip the slicing."""

    def item(self, k: int) -> tuple[Any, ...]:
        """Repeat ``k`` as the decoded array ``(head, data0, ...)``."""
        if not 0 <= k < self.count:
            raise IndexError(k)
        base = k * self.step
        data = self.data
        return (self.head, *[data[base + o:base + o + n] for o, n in self.offsets])


class _RunItems(Sequence[tuple[Any, ...]]):
    """A ``RepeatRun`` seen as a batch's items (built one by one, on demand)."""

    __slots__ = ("run",)

    def __init__(self, run: RepeatRun) -> None:
        self.run = run

    def __len__(self) -> int:
        return self.run.count

    @overload
    def __getitem__(self, k: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[tuple[Any, ...]]: ...

    def __getitem__(self, k: int | slice) -> Any:
        if isinstance(k, slice):
            return [self.run.item(j) for j in range(*k.indices(self.run.count))]
        return self.run.item(k + self.run.count if k < 0 else k)


@dataclass(slots=True)
class SyscallBatch:
    """A run of consecutive syscalls of one process (``pid``), the first with
    sequence number ``seq0``: item ``k`` has sequence number ``seq0 + k``.

    An item is either a *full* syscall, a plain tuple in ``SyscallEntry`` field
    order (``(seq, module, name, params, inputs, errno, writes, pid)``, first
    element a non-negative int), or a *repeat*: the decoded msgpack array
    ``(~fid, data0, ...)`` itself (first element a negative int), whose
    template is ``templates[item[0]]``. Repeats are the bulk of a loop's
    journal, and passing them on as decoded saves an allocation (and its share
    of garbage collections) per call. Within a batch a key names one template,
    fixed at decode time (the decoder runs ahead of its consumers): when a
    function's template changes after the batch already holds repeats of the
    old one, the new one's repeats are rebuilt as ``(key, data...)`` under a key
    of their own (below ``ALIAS_BASE``).

    A batch may also be one ``RepeatRun`` (``run`` set): a loop's repeats kept as
    their msgpack bytes, its ``items`` built one by one on demand; consumers in a
    hurry read ``run`` directly (replay's lean callbacks).
    """

    seq0: int
    pid: int
    items: Sequence[tuple[Any, ...]]
    templates: dict[int, RepeatTemplate]
    where: int = -1
    """Byte offset of the frame the batch came from (for error reports), -1 if unknown."""
    run: RepeatRun | None = None
    """Set when the batch is one ``RepeatRun`` (its items are then built on demand)."""

    def raw(self, k: int) -> tuple[Any, ...]:
        """Item ``k`` as a full tuple (``SyscallEntry`` field order); a repeat whose
        data are not all bytes raises ``FrameDecodeError`` (the decoder leaves that
        check to the consumer, see ``FrameDecoder.decode_batches``)."""
        item = self.items[k]
        head = item[0]
        if head >= 0:
            return item
        t = self.templates[head]
        data = item[1:]
        for d in data:
            if type(d) is not bytes:
                raise FrameDecodeError(f"bad repeat data {d!r:.40}")
        return (self.seq0 + k, t.module, t.name, t.params, t.inputs, t.errno,
                tuple(zip(t.addrs, data)), self.pid)

    def entry(self, k: int) -> SyscallEntry:
        """Item ``k`` as a typed entry."""
        return SyscallEntry(*self.raw(k))

    def entries(self) -> Iterator[SyscallEntry]:
        """Every item as a typed entry, in order."""
        raw = self.raw
        for k in range(len(self.items)):
            yield SyscallEntry(*raw(k))


RawBatch = Union[SyscallBatch, Entry]
"""What ``FrameDecoder.decode_batches`` yields: a batch of syscalls, or a typed
event (on its own, between batches)."""


class FrameDecodeError(Exception):
    """The payload of a frame (whose checksum matched) does not follow the format."""


def make_unpacker(max_size: int) -> msgpack.Unpacker:
    return msgpack.Unpacker(
        None, raw=False, use_list=False, strict_map_key=False, ext_hook=_ext_hook,
        max_buffer_size=max(max_size, 1024),
    )


def _run_length(raw: bytes, end: int, unit: bytes, fixed: list[int], most: int) -> int:
    """How many units of ``len(unit)`` bytes from ``raw[end:]`` (at most ``most``)
    have ``unit``'s bytes at every offset in ``fixed``; 0 if fewer than
    ``MIN_RUN``. Doubling, then bisection, over C-speed compares of strided
    slices (a few ns per unit; a regular expression took ~100)."""
    step = len(unit)

    def fits(n: int) -> bool:
        if raw.startswith(unit * n, end):  # the common case: identical units
            return True
        stop = end + n * step
        for o in fixed:
            if raw[end + o:stop:step] != unit[o:o + 1] * n:
                return False
        return True

    if most < MIN_RUN or not fits(MIN_RUN):
        return 0
    good, bad = MIN_RUN, 2 * MIN_RUN
    while bad <= most and fits(bad):
        good, bad = bad, 2 * bad
    bad = min(bad, most + 1)
    while bad - good > 1:
        mid = (good + bad) // 2
        if fits(mid):
            good = mid
        else:
            bad = mid
    return good


_Fresh = tuple[list[tuple[Any, ...]], Callable[[tuple[Any, ...]], None], int,
               dict[int, RepeatTemplate], dict[int, int], Callable[[int], "int | None"],
               dict[int, int]]


def _fresh_batch(size: int) -> _Fresh:
    """The decoder's per-batch state, empty (see ``FrameDecoder.decode_batches``)."""
    out: list[tuple[Any, ...]] = []
    widths: dict[int, int] = {}
    return out, out.append, size, {}, widths, widths.get, {}


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
        self._last: list[tuple[Any, ...] | None] = []
        """Per function: its last full entry (the full item tuple)."""
        self._alias_key = ALIAS_BASE
        """The next batch key of a template whose tag is taken (see ``SyscallBatch``)."""
        self._no_run: dict[int, int] = {}
        """By repeat tag: the sequence number before which no run is looked for
        after its repeats (a failed look costs a few us)."""
        self._templates: dict[int, RepeatTemplate] = {}
        """By repeat tag ``~fid``: the template of the function's last full entry,
        once a repeat of it was decoded."""

    def decode(self, raw: bytes, count: int) -> Iterator[Entry]:
        """Yield the typed entries of one frame payload of ``count`` msgpack objects."""
        for batch in self.decode_batches(raw, count):
            if type(batch) is SyscallBatch:
                yield from batch.entries()
            else:
                yield batch  # type: ignore[misc]

    def decode_batches(self, raw: bytes, count: int,
                       size: int = BATCH) -> Iterator[RawBatch]:
        """Decode one frame payload as ``SyscallBatch``es of at most ``size`` items
        and the typed events between them; a decoding error is raised
        (``FrameDecodeError``) after the batch of the items before it.

        A batch ends at the frame's end, at ``size`` items, before an event, a
        change of process or sequence number (``ctx``, ``start``) and before a
        full entry of a function whose repeats the batch already holds (see
        ``SyscallBatch``). Batches are bounded so memory stays bounded by the
        frame, not by its decoded Python objects.
        """
        # Incremental on purpose: one ``unpackb`` of the whole frame (behind an
        # array header) was measured slower, as every decoded object stays alive
        # to the frame's end and the extra live containers trigger more GC passes.
        objs = make_unpacker(len(raw))
        objs.feed(raw)
        fns = self._fns
        last = self._last
        seq0 = self.seq
        pid = self.pid
        # per batch: its items; its templates by key; ``widths``: by repeat tag,
        # the length of a repeat array (1 + writes) for the tags whose repeats
        # are passed on as decoded (the hot path); ``alias``: by repeat tag, once
        # its function's template changed within the batch, the batch's key of
        # the new template (see ``SyscallBatch``); ``left``: room in the batch
        out, append, left, tmpls, widths, wget, alias = _fresh_batch(size)
        seen = 0  # objects before ``out`` (``out`` adds its length)
        # The repeat branch is the loop's hot path (every op costs ~1% of a
        # replayed call): its data are checked for ``bytes`` lazily, by
        # ``SyscallBatch.raw`` or by the consumer writing them.
        try:
            for obj in objs:
                if type(obj) is not tuple:
                    raise FrameDecodeError(f"entry is not an array: {obj!r:.80}")
                head = obj[0]
                w = wget(head)
                if w is not None:
                    if len(obj) != w:
                        raise FrameDecodeError(f"bad repeat entry {obj!r:.40}")
                    append(obj)
                    left -= 1
                    if not left:
                        seen += len(out)
                        yield SyscallBatch(seq0, pid, out, tmpls)
                        seq0 += len(out)
                        out, append, left, tmpls, widths, wget, alias = _fresh_batch(size)
                    continue
                if type(head) is int:
                    if head < 0 and head in tmpls:
                        # a repeat of a template that changed within this batch:
                        # passed on under the batch's key of the new template
                        key = alias.get(head)
                        if key is None:
                            key = alias[head] = self._alias_key
                            self._alias_key -= 1
                            tmpls[key] = self._template(head)
                        if len(obj) != len(tmpls[key].addrs) + 1:
                            raise FrameDecodeError(f"bad repeat entry {obj!r:.40}")
                        append((key, *obj[1:]))
                    elif head < 0:
                        # first repeat of this tag in the batch: look for a run of
                        # identically encoded repeats right after it
                        t = tmpls[head] = self._template(head)
                        w = widths[head] = len(t.addrs) + 1
                        if len(obj) != w:
                            raise FrameDecodeError(f"bad repeat entry {obj!r:.40}")
                        append(obj)
                        run = None
                        if 2 <= w <= 3 and self._no_run.get(head, -1) < seq0 + len(out):
                            run = self._run(objs, raw, obj, count - seen - len(out))
                            if run is None:  # not here: not again for a while
                                self._no_run[head] = seq0 + len(out) + RUN_RETRY
                        if run is not None:
                            seen += len(out)
                            yield SyscallBatch(seq0, pid, out, tmpls)
                            seq0 += len(out)
                            seen += run.count
                            yield SyscallBatch(seq0, pid, _RunItems(run), {head: t}, run=run)
                            seq0 += run.count
                            out, append, left, tmpls, widths, wget, alias = \
                                _fresh_batch(size)
                            continue
                    else:
                        fid, params, errno, inputs, writes = obj[:5]
                        module, name = fns[fid]
                        if ~head in tmpls:
                            # the function's template changes within the batch:
                            # its next repeats get another key (``alias``)
                            widths.pop(~head, None)
                            alias.pop(~head, None)
                        self._templates.pop(~head, None)
                        item = last[fid] = (seq0 + len(out), module, name, params, inputs,
                                            errno, writes, pid)
                        append(item)
                    left -= 1
                    if not left:
                        seen += len(out)
                        yield SyscallBatch(seq0, pid, out, tmpls)
                        seq0 += len(out)
                        # (new maps: every tag gets a run check per batch)
                        out, append, left, tmpls, widths, wget, alias = _fresh_batch(size)
                elif type(head) is str:
                    seen += 1
                    seq = seq0 + len(out)
                    self.seq, self.pid = seq, pid
                    ev = self._named(head, obj)
                    if ev is not None or self.seq != seq or self.pid != pid:
                        if out:
                            seen += len(out)
                            yield SyscallBatch(seq0, pid, out, tmpls)
                            out = []
                            append = out.append
                            left = size
                        seq0, pid = self.seq, self.pid
                        if ev is not None:
                            yield ev
                else:
                    raise FrameDecodeError(f"bad entry tag {head!r:.40}")
        except FrameDecodeError as exc:
            error: FrameDecodeError | None = exc
        except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException) as exc:
            error = FrameDecodeError(f"undecodable entry: {exc}")
            error.__cause__ = exc
        else:
            error = None
            if seen + len(out) != count:
                error = FrameDecodeError(f"frame holds {seen + len(out)} entries, header "
                                         f"says {count}")
        self.seq, self.pid = seq0 + len(out), pid
        if out:
            yield SyscallBatch(seq0, pid, out, tmpls)
        if error is not None:
            raise error

    def _run(self, objs: msgpack.Unpacker, raw: bytes, obj: tuple[Any, ...],
             remaining: int) -> RepeatRun | None:
        """After the repeat ``obj`` (just decoded), take the run of repeats that
        follow it encoded byte for byte like it but for their data (same tag, same
        data lengths), if at least ``MIN_RUN`` long: its end is found with bytes
        comparisons (``_run_length``) and the unpacker skips it at C speed, so a
        loop's journal costs no Python object per call (``RepeatRun``). None,
        consuming nothing, otherwise."""
        if remaining < MIN_RUN:
            return None
        lengths = [len(d) for d in obj[1:]]
        if not all(0 < n < 256 for n in lengths):
            return None  # (see RepeatRun: data are never empty)
        enc = msgpack.packb(obj)
        end = objs.tell()
        if raw[end - len(enc):end] != enc:
            return None  # not the canonical encoding: decoded one by one
        step = len(enc)
        o0 = step - sum(lengths) - 2 * (len(lengths) - 1)
        fixed = list(range(o0))  # offsets of the bytes every unit shares with enc
        offsets = [(o0, lengths[0])]
        if len(lengths) == 2:
            o1 = o0 + lengths[0] + 2
            if enc[o1 - 2:o1] != bytes((0xC4, lengths[1])):
                return None
            fixed += [o1 - 2, o1 - 1]
            offsets.append((o1, lengths[1]))
        n = _run_length(raw, end, enc, fixed, min(remaining, (len(raw) - end) // step))
        if n < MIN_RUN:
            return None
        data = objs.read_bytes(n * step)
        if len(data) != n * step:
            raise FrameDecodeError("repeat run cut short")
        same = None
        if data == enc * n:  # (at C speed)
            same = tuple([data[o:o + k] for o, k in offsets])
        return RepeatRun(obj[0], data, step, tuple(offsets), n, same)

    def _template(self, head: int) -> RepeatTemplate:
        """The template repeats tagged ``head`` refer to (made at the first one)."""
        t = self._templates.get(head)
        if t is None:
            fid = ~head
            full = self._last[fid] if fid < len(self._last) else None
            if full is None:
                raise FrameDecodeError("repeat entry without a previous call")
            _, module, name, params, inputs, errno, writes, _ = full
            addrs = (writes[0][0],) if len(writes) == 1 else tuple([w[0] for w in writes])
            t = self._templates[head] = RepeatTemplate(module, name, params, inputs, errno,
                                                       addrs)
        return t

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
            self._no_run.clear()  # (keyed by sequence numbers)
            return None
        if kind == KIND_START:
            m = obj[1]
            self.pid, self.seq = m["pid"], 0
            self._no_run.clear()
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
