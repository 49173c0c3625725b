"""``wasi-rr dump``: print a journal strace-style, as JSON lines, or as statistics.

    wasi-rr dump [--json] [--stats] [--header] JOURNAL [RANGE...]

One line per syscall: ``#SEQ name(arg=value, ...) = ERRNO {results}``, flags and
enums decoded by the signature table (``wasi_rr.host.table.format``), process
events as ``+++ ... +++`` lines; syscalls of a process other than the first are
prefixed ``[pid N]`` (as ``strace -f`` does). RANGEs select syscalls by sequence number:
``5``, ``100-200`` (inclusive), ``100-end``; several ranges are a union. With
ranges, process events are left out.

``--json`` prints one JSON object per entry (JSON Lines); with ``--stats`` one
object of figures; with ``--header`` the header first. Byte strings are JSON
strings when they are valid UTF-8 and ``{"base64": "..."}`` otherwise, so the two
cannot be confused; an input stored as a digest is ``{"sha256": HEX, "length": N}``.
Snapshot entries give the size and SHA-256 of their blobs, not the blobs.

A truncated or corrupt journal prints everything readable, then one error line
and exits with ``ExitStatus.JOURNAL_ERROR``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from .errors import WasiRrError
from .exitcodes import ExitStatus
from .journal import (
    Call,
    CtxEvent,
    Entry,
    ExitEvent,
    ForkEvent,
    InputDigest,
    JournalError,
    JournalHeader,
    JournalReader,
    SnapshotEvent,
    StartEvent,
    TrapEvent,
)

__all__ = [
    "JournalFileError",
    "SeqRange",
    "add_parser",
    "collect_stats",
    "dump",
    "entry_to_json",
    "format_entry",
    "format_header",
    "parse_range",
]


class JournalFileError(WasiRrError):
    """The journal is truncated, corrupt or of an unsupported version."""

    status = ExitStatus.JOURNAL_ERROR


class RangeError(WasiRrError):
    """A RANGE argument is malformed (a usage error)."""

    status = ExitStatus.USAGE


@dataclass(frozen=True, slots=True)
class SeqRange:
    """Inclusive range of sequence numbers; ``last`` None means "to the end"."""

    first: int
    last: int | None

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and seq >= self.first and (self.last is None
                                                                or seq <= self.last)


def parse_range(text: str) -> SeqRange:
    """``5`` | ``100-200`` | ``100-end`` (``ValueError`` with a clear message otherwise)."""
    first_s, sep, last_s = text.partition("-")
    try:
        first = int(first_s)
        if not sep:
            last: int | None = first
        elif last_s in ("end", ""):
            last = None
        else:
            last = int(last_s)
    except ValueError:
        raise ValueError(f"bad range {text!r}: expected N, N-M or N-end") from None
    if first < 0 or (last is not None and last < first):
        raise ValueError(f"bad range {text!r}: expected 0 <= N <= M")
    return SeqRange(first, last)


# -- text --------------------------------------------------------------------------

def format_entry(entry: Entry, *, show_pid: bool = False) -> str:
    """One strace-like line for any entry (``[pid N] `` first when ``show_pid``)."""
    if isinstance(entry, Call):
        from wasi_rr.host.table.format import format_call

        line = format_call(entry.module, entry.name, entry.params, entry.input_data,
                           entry.errno, entry.writes)
        prefix = f"[pid {entry.pid}] " if show_pid else ""
        return f"{prefix}#{entry.seq} {line}"
    if isinstance(entry, CtxEvent):
        return f"+++ pid {entry.pid} continues at syscall #{entry.seq} +++"
    if isinstance(entry, StartEvent):
        return f"+++ pid {entry.pid} started: argv={list(entry.argv)!r} +++"
    if isinstance(entry, ExitEvent):
        if entry.interrupted:
            return f"+++ pid {entry.pid} interrupted (Ctrl-C): the recording ends here +++"
        return f"+++ pid {entry.pid} exited with {entry.status} +++"
    if isinstance(entry, TrapEvent):
        return f"+++ pid {entry.pid} trapped: {entry.message} +++"
    if isinstance(entry, SnapshotEvent):
        base = f", delta on #{entry.base}" if entry.base is not None else ""
        return (f"+++ pid {entry.pid} snapshot #{entry.id} before syscall #{entry.seq} "
                f"({entry.trigger}; {len(entry.snapshot)} bytes{base}, fs {len(entry.fs)} "
                "bytes) +++")
    if isinstance(entry, ForkEvent):
        return f"+++ pid {entry.pid} forked pid {entry.child} at syscall #{entry.seq} +++"
    return f"+++ {type(entry).__name__} +++"


def format_header(reader: JournalReader) -> str:
    h = reader.header
    lines = [
        f"journal:        {reader.path} ({reader.size} bytes)",
        f"format:         {h.format_version[0]}.{h.format_version[1]} "
        f"(written by wasi-rr {h.wasi_rr_version})",
        f"module:         {h.module_name or '?'} sha256={h.module_sha256} "
        f"size={h.module_size} {'embedded' if h.module_embedded else 'NOT embedded'}",
        f"argv:           {h.argv!r}",
        "env:" + ("            (empty)" if not h.env else ""),
        *(f"  {k}={v}" + ("   (redacted)" if k in h.redacted_env else "") for k, v in h.env),
        "preopens:" + ("       (none)" if not h.preopens else ""),
        *(f"  {p.guest} [{p.mode}]" + (f" from {p.host}" if p.host else "")
          for p in h.preopens),
        f"options:        {json.dumps(_jsonable(h.options), default=str)}",
        f"meta:           {json.dumps(_jsonable(h.meta), default=str)}",
        f"input hashing:  inputs over {h.input_hash_threshold} bytes stored as sha256"
        if h.input_hash_threshold is not None else "input hashing:  off (all inputs in full)",
        f"created:        {h.created_unix_ns} ns since the epoch",
    ]
    if h.extra:
        lines.append(f"extra:          {json.dumps(_jsonable(h.extra), default=str)}")
    return "\n".join(lines)


# -- json --------------------------------------------------------------------------

def _jbytes(data: bytes | InputDigest) -> Any:
    if isinstance(data, InputDigest):
        return {"sha256": data.sha256.hex(), "length": data.length}
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _jdefault(obj: Any) -> Any:
    """JSON for what a crafted journal may hide in free-form maps (bytes...)."""
    if isinstance(obj, (bytes, bytearray)):
        return _jbytes(bytes(obj))
    return str(obj)


def _jsonable(obj: Any) -> Any:
    """A free-form msgpack value (header options/meta/extra, a snapshot's extra) with
    every map key made a string: msgpack keys may be bytes or anything else, JSON
    keys may not (values are left to ``_jdefault``)."""
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else _key_text(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _key_text(key: Any) -> str:
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("utf-8", "backslashreplace")
    return str(key)


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """The full decoded entry as a JSON-ready dict."""
    if isinstance(entry, Call):
        from wasi_rr.host.table.format import errno_name

        return {"kind": "syscall", "seq": entry.seq, "pid": entry.pid,
                "module": entry.module, "name": entry.name, "params": list(entry.params),
                "inputs": [{"addr": a, "data": _jbytes(d)} for a, d in entry.inputs],
                "errno": entry.errno, "errno_name": errno_name(entry.errno),
                "writes": [{"addr": a, "data": _jbytes(d)} for a, d in entry.writes],
                "stdio": entry.stdio}
    if isinstance(entry, CtxEvent):
        return {"kind": "ctx", "pid": entry.pid, "seq": entry.seq}
    if isinstance(entry, StartEvent):
        return {"kind": "start", "pid": entry.pid, "argv": list(entry.argv),
                "time_unix_ns": entry.time_unix_ns}
    if isinstance(entry, ExitEvent):
        return {"kind": "exit", "pid": entry.pid, "status": entry.status,
                "elapsed_ns": entry.elapsed_ns, "interrupted": entry.interrupted}
    if isinstance(entry, TrapEvent):
        return {"kind": "trap", "pid": entry.pid, "message": entry.message,
                "elapsed_ns": entry.elapsed_ns}
    if isinstance(entry, SnapshotEvent):
        # The blobs (memory image, frozen filesystem) can be megabytes: described, not
        # inlined; `wasi-rr resume` and wasi_rr.snapshots read them.
        return {"kind": "snap", "pid": entry.pid, "id": entry.id, "seq": entry.seq,
                "trigger": entry.trigger, "base": entry.base,
                "module_sha256": entry.module_sha256, "time_unix_ns": entry.time_unix_ns,
                "snapshot_bytes": len(entry.snapshot),
                "snapshot_sha256": hashlib.sha256(entry.snapshot).hexdigest(),
                "fs_bytes": len(entry.fs), "fs_sha256": hashlib.sha256(entry.fs).hexdigest(),
                "extra": _jsonable(entry.extra)}
    if isinstance(entry, ForkEvent):
        return {"kind": "fork", "pid": entry.pid, "child": entry.child, "seq": entry.seq}
    return {"kind": "unknown", "type": type(entry).__name__}


def header_to_json(header: JournalHeader) -> dict[str, Any]:
    from .journal.header import header_to_wire

    return {"kind": "header", **_jsonable(header_to_wire(header))}


# -- stats -------------------------------------------------------------------------

@dataclass(slots=True)
class DumpStats:
    calls: Counter[str]
    errors: Counter[str]
    input_bytes: int = 0
    write_bytes: int = 0
    hashed_inputs: int = 0
    syscalls: int = 0
    events: int = 0
    wall_ns: int | None = None


def collect_stats(entries: Iterable[Entry]) -> DumpStats:
    stats = DumpStats(Counter(), Counter())
    for e in entries:
        if isinstance(e, Call):
            stats.syscalls += 1
            stats.calls[e.name] += 1
            if e.errno:
                stats.errors[e.name] += 1
            for _, x in e.inputs:
                if isinstance(x, InputDigest):
                    stats.hashed_inputs += 1
                    stats.input_bytes += x.length
                else:
                    stats.input_bytes += len(x)
            for _, d in e.writes:
                stats.write_bytes += len(d)
        else:
            stats.events += 1
            if isinstance(e, (ExitEvent, TrapEvent)) and e.elapsed_ns:
                stats.wall_ns = e.elapsed_ns
    return stats


def _wall_ns(reader: JournalReader, stats: DumpStats) -> int | None:
    """The recorded wall time: the last exit/trap event's, else the END frame's (an
    integer, or unknown: the END frame is untrusted input too)."""
    if stats.wall_ns is not None:
        return stats.wall_ns
    wall = reader.stats.summary.get("wall_ns")
    return wall if type(wall) is int and wall >= 0 else None


def stats_to_json(reader: JournalReader, stats: DumpStats) -> dict[str, Any]:
    """``--stats --json``: the same figures as one JSON object."""
    js = reader.stats
    wall = _wall_ns(reader, stats)
    return {
        "kind": "stats", "syscalls": stats.syscalls, "events": stats.events,
        "calls": dict(stats.calls.most_common()), "errors": dict(stats.errors),
        "input_bytes": stats.input_bytes, "hashed_inputs": stats.hashed_inputs,
        "write_bytes": stats.write_bytes, "journal_bytes": reader.size,
        "module_bytes": reader.header.module_size,
        "module_embedded": reader.header.module_embedded, "frames": js.frames,
        "raw_entry_bytes": js.raw_bytes, "stored_entry_bytes": js.stored_bytes,
        "bytes_per_syscall": reader.size / stats.syscalls if stats.syscalls else None,
        "wall_ns": wall, "skipped_entries": js.skipped_entries,
    }


def format_stats(reader: JournalReader, stats: DumpStats) -> str:
    js = reader.stats
    wall = _wall_ns(reader, stats)
    per_call = reader.size / stats.syscalls if stats.syscalls else 0.0
    ratio = js.raw_bytes / js.stored_bytes if js.stored_bytes else 0.0
    lines = [f"{'calls':>10} {'errors':>8}  syscall"]
    for name, n in stats.calls.most_common():
        lines.append(f"{n:>10} {stats.errors.get(name, 0):>8}  {name}")
    lines += [
        f"{stats.syscalls:>10} {sum(stats.errors.values()):>8}  total",
        "",
        f"events:                    {stats.events}",
        f"bytes read from guest:     {stats.input_bytes} (inputs; {stats.hashed_inputs} "
        "stored as sha256)",
        f"bytes written into guest:  {stats.write_bytes}",
        f"journal size:              {reader.size} bytes "
        f"(module {'embedded' if reader.header.module_embedded else 'not embedded'}, "
        f"{reader.header.module_size} bytes)",
        f"entry frames:              {js.frames} ({js.raw_bytes} raw -> "
        f"{js.stored_bytes} stored, ratio {ratio:.1f}x)",
        f"bytes per syscall:         {per_call:.2f} (whole file), "
        f"{(js.stored_bytes / stats.syscalls if stats.syscalls else 0):.2f} (entries only)",
        "wall time recorded:        "
        + (f"{wall / 1e9:.3f} s" if wall is not None else "unknown"),
    ]
    if js.skipped_entries:
        lines.append(f"skipped entries:           {js.skipped_entries} (newer format kinds)")
    return "\n".join(lines)


# -- driver ------------------------------------------------------------------------

def _selected(entries: Iterable[Entry], ranges: list[SeqRange]) -> Iterator[Entry]:
    if not ranges:
        yield from entries
        return
    for e in entries:
        if isinstance(e, Call) and any(e.seq in r for r in ranges):
            yield e


def _checked(reader: JournalReader) -> Iterator[Entry]:
    """Entries validated against the signature table as well."""
    from wasi_rr.host.table.validate import validate_call

    return reader.entries(check=validate_call)


def dump(path: str | os.PathLike[str], ranges: Iterable[str] = (), *, as_json: bool = False,
         stats: bool = False, header: bool = False, out: TextIO | None = None) -> int:
    """Print the journal to ``out`` (stdout); return the exit status.

    Raises ``JournalFileError`` (after printing what was readable) for a damaged
    journal, ``WasiRrError`` for an unreadable file or a bad range.
    """
    out = out if out is not None else sys.stdout
    try:
        parsed = [parse_range(r) for r in ranges]
    except ValueError as exc:
        raise RangeError(str(exc)) from None
    try:
        reader = JournalReader(path)
    except OSError as exc:
        raise WasiRrError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    except JournalError as exc:
        raise JournalFileError(f"{path}: {exc}") from None
    with reader:
        try:
            if header:
                if as_json:
                    print(json.dumps(header_to_json(reader.header), default=_jdefault), file=out)
                else:
                    print(format_header(reader), file=out)
                if not stats and not parsed:
                    return 0
            if stats:
                result = collect_stats(_selected(_checked(reader), parsed))
                if as_json:
                    print(json.dumps(stats_to_json(reader, result)), file=out)
                else:
                    print(format_stats(reader, result), file=out)
                return 0
            first_pid: int | None = None
            for entry in _selected(_checked(reader), parsed):
                if isinstance(entry, CtxEvent) and not as_json:
                    continue
                if as_json:
                    print(json.dumps(entry_to_json(entry), ensure_ascii=False, default=_jdefault),
                          file=out)
                    continue
                pid = getattr(entry, "pid", None)
                if first_pid is None:
                    first_pid = pid
                # like strace -f: syscalls of other processes than the first are tagged
                print(format_entry(entry, show_pid=pid != first_pid), file=out)
        except JournalError as exc:
            out.flush()
            raise JournalFileError(f"{path}: {exc}") from None
        except BrokenPipeError:  # `wasi-rr dump J | head`
            try:
                sys.stdout = open(os.devnull, "w")  # silence the final flush
            except OSError:
                pass
            return 0
    return 0


def _main(args: argparse.Namespace) -> int:
    if args.snapshots:  # the listing lives with resume (wasi_rr/cmd_resume.py)
        from .cmd_resume import print_snapshot_list

        return print_snapshot_list(args.journal)
    return dump(args.journal, args.ranges, as_json=args.json, stats=args.stats,
                header=args.header)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``dump`` to the ``wasi-rr`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dump", help="print a journal, one line per syscall (strace-like)",
        description="Print a journal: one line per syscall '#SEQ name(args) = ERRNO "
                    "{results}'. RANGE selects sequence numbers: N, N-M or N-end.")
    parser.add_argument("--json", action="store_true",
                        help="JSON Lines, one full entry per line (bytes: UTF-8 string, "
                             "else {\"base64\": ...})")
    parser.add_argument("--stats", action="store_true",
                        help="per-syscall counts, bytes, size and compression figures "
                             "(with --json: one JSON object)")
    parser.add_argument("--header", action="store_true",
                        help="print the journal header (module, argv, env, preopens...)")
    parser.add_argument("--snapshots", action="store_true",
                        help="list the snapshots: id, pid, seq, trigger, delta base, sizes")
    parser.add_argument("journal", metavar="JOURNAL", help="the journal file (.wrr)")
    parser.add_argument("ranges", nargs="*", metavar="RANGE",
                        help="sequence numbers to show: N, N-M, N-end")
    parser.set_defaults(func=_main)
    return parser
