"""Crafted journals: real records, mutated field by field, re-framed with valid checksums.

``Seed.load`` splits a real journal into its header, module and records (the
bytes of each record, as the writer made them). ``Crafter`` applies seeded
mutations to a copy: a call record is edited as its raw header fields, params,
descriptors and bytes (any value, consistent or not: ``RawCall.encode`` packs
what it is given, masked to the field widths, so sizes and counts can lie), an
event as its decoded msgpack object (then re-packed, or replaced by garbage),
the header through ``JournalHeader.extra`` (whose keys override the known ones on
the wire), the END frame through ``close(summary=...)``. ``write`` hands the
records to a real ``JournalWriter`` (its frames, CRCs and END frame are right),
so what a reader meets past the checksums is exactly the crafted content.
"""

from __future__ import annotations

import copy
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from wasi_rr.journal import JournalHeader, JournalReader, JournalWriter
from wasi_rr.journal.events import (
    CtxEvent,
    ExitEvent,
    ForkEvent,
    SnapshotEvent,
    StartEvent,
    TrapEvent,
    event_to_wire,
)
from wasi_rr.journal.records import (
    DESC,
    DIGEST_BIT,
    EVENT_FID,
    HEADER,
    HEADER_SIZE,
    encode_event,
    record_size,
)

U64 = (1 << 64) - 1


@dataclass
class RawCall:
    """A call record's fields, free to be inconsistent."""

    fid: int
    flags: int
    np: int
    nin: int
    nw: int
    errno: int
    params: list[int]
    descs: list[list[int]]
    data: bytes
    size: int | None = None
    """None: the true size of what ``encode`` packs."""

    @classmethod
    def parse(cls, rec: bytes) -> RawCall:
        _, fid, flags, np_, nin, nw, errno = HEADER.unpack_from(rec, 0)
        pos = HEADER_SIZE
        params = list(struct.unpack_from(f"<{np_}Q", rec, pos))
        pos += 8 * np_
        descs = [list(d) for d in DESC.iter_unpack(rec[pos:pos + 8 * (nin + nw)])]
        pos += 8 * (nin + nw)
        return cls(fid, flags, np_, nin, nw, errno, params, descs, rec[pos:])

    def encode(self) -> bytes:
        body = b"".join(struct.pack("<Q", p & U64) for p in self.params)
        body += b"".join(DESC.pack(a & 0xFFFF_FFFF, n & 0xFFFF_FFFF) for a, n in self.descs)
        body += self.data
        size = HEADER_SIZE + len(body) if self.size is None else self.size
        return HEADER.pack(size & 0xFFFF_FFFF, self.fid & 0xFFFF, self.flags & 0xFF,
                           self.np & 0xFF, self.nin & 0xFFFF, self.nw & 0xFFFF,
                           self.errno & 0xFFFF_FFFF) + body

    def blob_spans(self) -> list[tuple[int, int, int]]:
        """(descriptor index, start, length) of each descriptor's bytes in ``data``."""
        spans = []
        pos = 0
        for k, (_, n) in enumerate(self.descs):
            length = 40 if (k < self.nin and n & DIGEST_BIT) else n
            spans.append((k, pos, length))
            pos += length
        return spans


@dataclass
class Seed:
    """A real journal split into what a crafter edits."""

    name: str
    header: JournalHeader
    module: bytes | None
    records: list[bytes]
    calls: int

    @classmethod
    def load(cls, path: Path, name: str) -> Seed:
        with JournalReader(path) as r:
            header = r.header
            module = r.module_bytes()
            records: list[bytes] = []
            for frame in r.frames():
                buf = frame.payload
                off = 0
                while off < len(buf):
                    size = record_size(buf, off, len(buf))
                    records.append(bytes(buf[off:off + size]))
                    off += size
        calls = sum(1 for rec in records if not is_event(rec))
        return cls(name, header, module, records, calls)


def is_event(rec: bytes) -> bool:
    return len(rec) >= 6 and struct.unpack_from("<H", rec, 4)[0] == EVENT_FID


# -- value pools -----------------------------------------------------------------------

def _bad_values(rng: random.Random) -> Any:
    return rng.choice([
        "1", "", "x" * 300, b"\x01", b"", -1, -(1 << 63), (1 << 64) - 1, 1 << 63, 1 << 32,
        (1 << 32) - 1, 0, 1, 1.5, float("nan"), None, True, False, [1], [], {"a": 1}, {},
        [[1, 2]], {"pid": 1}, "\udcff".encode("utf-8", "surrogatepass"),
    ])


def _big_u32(rng: random.Random) -> int:
    return rng.choice([0xFFFF_FFFF, 0xFFFF_FFF0, 0xFFFF_0000, 0xF000_0000, 0x8000_0000,
                       0x7FFF_FFFF, 0x0100_0000, 0x0011_0000, 0, 1, rng.getrandbits(32)])


# -- the crafter ---------------------------------------------------------------------------

@dataclass
class Case:
    """One crafted journal: what was done (for the report) and how to write it."""

    seed: str
    index: int
    what: list[str] = field(default_factory=list)
    records: list[bytes] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    syscalls_delta: int = 0
    frame_bytes: int = 1 << 20

    def describe(self) -> str:
        return f"{self.seed}#{self.index}: " + "; ".join(self.what)


class Crafter:
    """Seeded mutations of one ``Seed`` (see module docstring)."""

    def __init__(self, seed: Seed, rng: random.Random) -> None:
        self.seed = seed
        self.rng = rng
        self.nfuncs = len(seed.header.functions)
        self.call_idx = [i for i, r in enumerate(seed.records) if not is_event(r)]
        self.event_idx = [i for i, r in enumerate(seed.records) if is_event(r)]
        self.record_mutators: list[Callable[[Case], None]] = [
            self.m_errno, self.m_flags, self.m_fid, self.m_counts, self.m_size,
            self.m_param_i32, self.m_param_value, self.m_param_arity, self.m_desc_addr,
            self.m_desc_len, self.m_write_resized, self.m_write_outside, self.m_digest,
            self.m_data_flip, self.m_data_cut, self.m_reorder, self.m_event_field,
            self.m_event_shape, self.m_event_insert, self.m_header, self.m_summary,
            self.m_as_event,
        ]
        self.weights = [3, 2, 3, 3, 3, 3, 3, 3, 4, 4, 3, 3, 2, 3, 2, 2, 5, 3, 4, 3, 1, 1]

    def case(self, index: int) -> Case:
        c = Case(self.seed.name, index, records=list(self.seed.records),
                 frame_bytes=self.rng.choice([1 << 20, 1 << 20, 512, 64]))
        for _ in range(self.rng.choice([1, 1, 1, 1, 2, 3])):
            mutate = self.rng.choices(self.record_mutators, self.weights)[0]
            mutate(c)
        return c

    # -- helpers ----------------------------------------------------------------------
    def _pick_call(self, c: Case) -> tuple[int, RawCall] | None:
        idx = [i for i, r in enumerate(c.records) if not is_event(r) and len(r) >= HEADER_SIZE]
        if not idx:
            return None
        i = self.rng.choice(idx)
        try:
            return i, RawCall.parse(c.records[i])
        except struct.error:
            return None

    def _edit_call(self, c: Case, what: str, edit: Callable[[RawCall], str | None]) -> None:
        picked = self._pick_call(c)
        if picked is None:
            return
        i, raw = picked
        detail = edit(raw)
        if detail is None:
            return
        c.records[i] = raw.encode()
        name = self.seed.header.functions[raw.fid] if raw.fid < self.nfuncs else raw.fid
        c.what.append(f"record {i} ({name}): {what} {detail}")

    # -- call records -----------------------------------------------------------------------
    def m_errno(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            r.errno = self.rng.choice([0x1_0000, 0xFFFF_FFFF, 0xFFFF, self.rng.randrange(77),
                                       0, 8, 28, 76])
            return f"errno={r.errno:#x}"
        self._edit_call(c, "errno", edit)

    def m_flags(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            r.flags = self.rng.choice([3, 4, 0x80, 0xFF, 1, 2, 0])
            return f"flags={r.flags:#x}"
        self._edit_call(c, "flags", edit)

    def m_fid(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            r.fid = self.rng.choice([self.nfuncs, self.nfuncs + 1, 0xFFFE,
                                     self.rng.randrange(max(self.nfuncs, 1))])
            return f"fid={r.fid}"
        self._edit_call(c, "function", edit)

    def m_counts(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            which = self.rng.choice(["np", "nin", "nw"])
            old = getattr(r, which)
            new = self.rng.choice([old + 1, max(old - 1, 0), 0, 33, 255, 0xFFFF, old + 7])
            setattr(r, which, new)
            return f"{which} {old}->{new} (body unchanged)"
        self._edit_call(c, "header count", edit)

    def m_size(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            true = len(r.encode())
            r.size = self.rng.choice([true + 1, true - 1, 0, 15, 16, 0xFFFF_FFFF, true + 8,
                                      true * 2, 1 << 31])
            return f"size {true}->{r.size}"
        self._edit_call(c, "size", edit)

    def m_param_i32(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            if not r.params:
                return None
            k = self.rng.randrange(len(r.params))
            r.params[k] = self.rng.choice([1 << 32, 1 << 40, U64, (1 << 32) + r.params[k]])
            return f"param {k}={r.params[k]:#x}"
        self._edit_call(c, "i32 param >= 2**32", edit)

    def m_param_value(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            if not r.params:
                return None
            k = self.rng.randrange(len(r.params))
            r.params[k] = self.rng.choice([r.params[k] + 1, max(r.params[k] - 1, 0), 0,
                                           0xFFFF_FFFF, self.rng.getrandbits(32),
                                           self.rng.getrandbits(64)])
            return f"param {k}={r.params[k]:#x}"
        self._edit_call(c, "param value", edit)

    def m_param_arity(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            if r.params and self.rng.random() < 0.5:
                r.params.pop()
            else:
                r.params.append(self.rng.choice([0, 1, 1 << 33]))
            r.np = len(r.params)
            return f"{r.np} params (layout consistent)"
        self._edit_call(c, "params count for the signature", edit)

    def m_desc_addr(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            if not r.descs:
                return None
            k = self.rng.randrange(len(r.descs))
            r.descs[k][0] = _big_u32(self.rng)
            if self.rng.random() < 0.3:  # right at the end of 4 GiB, overlapping it
                r.descs[k][0] = (1 << 32) - max(1, (r.descs[k][1] & 0x7FFF_FFFF) // 2)
            return f"descriptor {k} addr={r.descs[k][0]:#x}"
        self._edit_call(c, "descriptor address", edit)

    def m_desc_len(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            if not r.descs:
                return None
            k = self.rng.randrange(len(r.descs))
            n = r.descs[k][1]
            r.descs[k][1] = self.rng.choice([0xFFFF_FFFF, 0x7FFF_FFFF, n | DIGEST_BIT, n + 1,
                                             max(n - 1, 0), DIGEST_BIT, 0, n ^ DIGEST_BIT])
            return f"descriptor {k} len {n:#x}->{r.descs[k][1]:#x} (bytes unchanged)"
        self._edit_call(c, "descriptor length", edit)

    def m_write_resized(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            spans = [s for s in r.blob_spans() if s[0] >= r.nin]
            if not spans or len(r.descs) != r.nin + r.nw:
                return None
            k, start, length = self.rng.choice(spans)
            new = self.rng.choice([0, 1, length + 1, length * 3 + 5, 70_000, 1 << 20])
            blob = bytes(self.rng.getrandbits(8) for _ in range(min(new, 64))) * (
                new // 64 + 1)
            r.data = r.data[:start] + blob[:new] + r.data[start + length:]
            r.descs[k][1] = new
            return f"write {k - r.nin} now {new} bytes (layout consistent)"
        self._edit_call(c, "write length", edit)

    def m_write_outside(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            addr = self.rng.choice([0xFFFF_FFF0, 0xF000_0000, 0x0200_0000, 0x0011_0000,
                                    0xFFFF_FFFF, (1 << 32) - 16])
            n = self.rng.choice([0, 1, 16])
            r.descs.append([addr, n])
            r.nw += 1
            r.data += bytes(n)
            return f"extra write {n} bytes at {addr:#x} (layout consistent)"
        self._edit_call(c, "write outside guest memory", edit)

    def m_digest(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            spans = [s for s in r.blob_spans() if s[0] < r.nin]
            if not spans or len(r.descs) != r.nin + r.nw:
                return None
            k, start, length = self.rng.choice(spans)
            if not r.descs[k][1] & DIGEST_BIT:  # make it a digest, of anything
                real = self.rng.choice([length, length + 1, 0, 1 << 31, (1 << 32) - 1,
                                        1 << 40, U64])
                digest = struct.pack("<Q32s", real, self.rng.randbytes(32))
                r.data = r.data[:start] + digest + r.data[start + length:]
                r.descs[k][1] = (length & (DIGEST_BIT - 1)) | DIGEST_BIT
                return f"input {k} as a digest of length {real:#x}"
            real, sha = struct.unpack_from("<Q32s", r.data, start)
            real = self.rng.choice([real + 1, 0, 1 << 31, U64, real])
            sha = bytes([sha[0] ^ 1]) + sha[1:]
            r.data = r.data[:start] + struct.pack("<Q32s", real, sha) + r.data[start + 40:]
            return f"digest {k} length {real:#x}, sha flipped"
        self._edit_call(c, "digest", edit)

    def m_data_flip(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            if not r.data:
                return None
            k = self.rng.randrange(len(r.data))
            r.data = r.data[:k] + bytes([r.data[k] ^ (1 << self.rng.randrange(8))]) + \
                r.data[k + 1:]
            return f"byte {k} of the data flipped"
        self._edit_call(c, "data", edit)

    def m_data_cut(self, c: Case) -> None:
        def edit(r: RawCall) -> str | None:
            if not r.data:
                return None
            n = self.rng.randrange(1, len(r.data) + 1)
            r.data = r.data[:-n] if self.rng.random() < 0.7 else r.data + bytes(n)
            return f"data length off by {n} (descriptors unchanged)"
        self._edit_call(c, "data length", edit)

    def m_as_event(self, c: Case) -> None:
        def edit(r: RawCall) -> str:
            r.fid = EVENT_FID
            return "fid=0xFFFF (an event header with call fields)"
        self._edit_call(c, "event fid", edit)

    def m_reorder(self, c: Case) -> None:
        n = len(c.records)
        if n < 2:
            return
        i = self.rng.randrange(n)
        op = self.rng.choice(["drop", "dup", "swap"])
        if op == "drop":
            del c.records[i]
        elif op == "dup":
            c.records.insert(i, c.records[i])
        else:
            j = self.rng.randrange(n)
            c.records[i], c.records[j] = c.records[j], c.records[i]
        c.what.append(f"{op} record {i}")

    # -- events -----------------------------------------------------------------------------
    def _pick_event(self, c: Case) -> tuple[int, Any] | None:
        idx = [i for i, r in enumerate(c.records) if is_event(r)]
        if not idx:
            return None
        i = self.rng.choice(idx)
        try:
            obj = msgpack.unpackb(c.records[i][HEADER_SIZE:], raw=False, strict_map_key=False)
        except Exception:  # an earlier mutation made it garbage
            return None
        return i, obj

    def m_event_field(self, c: Case) -> None:
        picked = self._pick_event(c)
        if picked is None or not (isinstance(picked[1], list) and len(picked[1]) == 2
                                  and isinstance(picked[1][1], dict)):
            return
        i, obj = picked
        fields = obj[1]
        op = self.rng.choice(["type", "type", "type", "drop", "add"])
        if op == "type" and fields:
            key = self.rng.choice(sorted(fields, key=str))
            fields[key] = _bad_values(self.rng)
            detail = f"{key}={fields[key]!r:.40}"
        elif op == "drop" and fields:
            key = self.rng.choice(sorted(fields, key=str))
            del fields[key]
            detail = f"without {key}"
        else:
            key = self.rng.choice(["future", "pid2", 7, "x" * 20])
            fields[key] = _bad_values(self.rng)
            detail = f"extra key {key!r:.20}"
        c.records[i] = encode_event(msgpack.packb(obj, use_bin_type=True))
        c.what.append(f"event {i} ({obj[0]!r:.12}): {detail}")

    def m_event_shape(self, c: Case) -> None:
        picked = self._pick_event(c)
        if picked is None:
            return
        i, obj = picked
        kind = obj[0] if isinstance(obj, list) and obj else "exit"
        fields = obj[1] if isinstance(obj, list) and len(obj) > 1 and isinstance(obj[1], dict) \
            else {}
        choice = self.rng.randrange(10)
        payload: bytes
        if choice == 0:
            payload = self.rng.randbytes(self.rng.randrange(0, 20))
            detail = "garbage bytes"
        elif choice == 1:
            full = msgpack.packb(obj, use_bin_type=True)
            payload = full[:self.rng.randrange(len(full))] if full else b""
            detail = "cut msgpack"
        elif choice == 2:
            payload = msgpack.packb([kind], use_bin_type=True)
            detail = "[kind]"
        elif choice == 3:
            payload = msgpack.packb([kind, fields, 1], use_bin_type=True)
            detail = "[kind, fields, 1]"
        elif choice == 4:
            payload = msgpack.packb([kind, list(fields.values())], use_bin_type=True)
            detail = "[kind, [values]]"
        elif choice == 5:
            payload = msgpack.packb(_bad_values(self.rng), use_bin_type=True)
            detail = "not a list"
        elif choice == 6:
            other = self.rng.choice(["start", "exit", "trap", "snap", "fork", "ctx", "zzz",
                                     "", 5, None, b"exit"])
            payload = msgpack.packb([other, fields], use_bin_type=True)
            detail = f"kind {other!r}"
        elif choice == 7:  # a map key msgpack cannot hash in Python
            payload = b"\x92\xa4exit\x81\x91\x01\x01"
            detail = "unhashable map key"
        elif choice == 8:
            payload = msgpack.packb([kind, fields], use_bin_type=True) + b"\xc1"
            detail = "trailing byte"
        else:
            payload = msgpack.packb([kind, {str(k): v for k, v in fields.items()},
                                     {"more": 1}], use_bin_type=True)
            detail = "three elements"
        c.records[i] = encode_event(payload)
        c.what.append(f"event {i}: {detail}")

    def m_event_insert(self, c: Case) -> None:
        rng = self.rng
        ev = rng.choice([
            StartEvent(rng.choice([1, 2, 999, 0xFFFF_FFFF]), ("x",)),
            ExitEvent(1, rng.choice([0, 1, 255, 256, 0xFFFF_FFFF])),
            ExitEvent(1, 0, 0, True),
            TrapEvent(1, rng.choice(["boom", ""])),
            CtxEvent(rng.choice([1, 2, 7]), rng.choice([0, 1, 5, 1 << 40, U64])),
            ForkEvent(1, rng.choice([1, 2, 0xFFFF_FFFF]), rng.choice([0, 3])),
            SnapshotEvent(1, 1, rng.choice([0, 2, U64]), "every", rng.randbytes(20),
                          rng.randbytes(10), rng.choice([None, 0, 5])),
        ])
        i = rng.randrange(len(c.records) + 1)
        c.records.insert(i, encode_event(event_to_wire(ev)))
        c.what.append(f"insert {ev!r:.60} at {i}")

    # -- header and END frame -----------------------------------------------------------
    def m_header(self, c: Case) -> None:
        rng = self.rng
        funcs = list(self.seed.header.functions)
        key = rng.choice(["argv", "env", "preopens", "options", "meta", "module_name",
                          "module_size", "module_embedded", "redacted_env",
                          "input_hash_threshold", "functions", "functions", "functions",
                          "wasi_rr_version", "created_unix_ns", "module_sha256", "format"])
        value: Any
        if key == "functions":
            value = rng.choice([
                funcs[::-1], [], funcs[:3], funcs + ["x::y"], ["nocolon"] * len(funcs),
                [f.replace("::", "::z") for f in funcs], rng.sample(funcs, len(funcs)),
                funcs[:1] * len(funcs), [5] * len(funcs), _bad_values(rng),
            ])
        elif key == "options":
            value = rng.choice([{b"k": 1}, {"trap_unknown_imports": "yes"}, {1: 2},
                                {"trap_unknown_imports": [1]}, _bad_values(rng)])
        elif key == "meta":
            value = rng.choice([{b"k": b"\xff"}, {1: None}, {"x": float("inf")},
                                _bad_values(rng)])
        elif key == "env":
            value = rng.choice([[["A"]], [["A", 1]], [[b"A", "b"]], [["A", "b", "c"]],
                                _bad_values(rng)])
        elif key == "preopens":
            value = rng.choice([[5], [{"guest": 1}], [{"guest": "/", "mode": "rw",
                                                     "host": 5}], _bad_values(rng)])
        elif key == "format":
            value = rng.choice([[1, 0], [2], ["2", "0"], [2, 0, 0], [3, 0], [2, 1 << 20],
                                _bad_values(rng)])
        elif key == "module_sha256":
            value = rng.choice(["00" * 32, "", 5, _bad_values(rng)])
        else:
            value = _bad_values(rng)
        c.extra[key] = value
        c.what.append(f"header {key}={value!r:.60}")

    def m_summary(self, c: Case) -> None:
        rng = self.rng
        if rng.random() < 0.4:
            c.syscalls_delta = rng.choice([1, -1, 1000])
            c.what.append(f"END syscalls off by {c.syscalls_delta}")
            return
        key = rng.choice(["wall_ns", "wall_ns", "syscalls", "frames", "raw_bytes", "events"])
        c.summary[key] = _bad_values(rng)
        c.what.append(f"END {key}={c.summary[key]!r:.40}")
        if key == "wall_ns":  # make dump --stats take the END frame's figure
            for i, rec in enumerate(c.records):
                if not is_event(rec):
                    continue
                try:
                    obj = msgpack.unpackb(rec[HEADER_SIZE:], raw=False, strict_map_key=False)
                except Exception:  # garbage from another mutation
                    continue
                if isinstance(obj, list) and len(obj) == 2 and isinstance(obj[1], dict) \
                        and "elapsed_ns" in obj[1]:
                    obj[1]["elapsed_ns"] = 0
                    c.records[i] = encode_event(msgpack.packb(obj, use_bin_type=True))

    # -- writing ------------------------------------------------------------------------------
    def write(self, c: Case, path: Path) -> None:
        header = copy.deepcopy(self.seed.header)
        header.extra = dict(c.extra)
        header.format_version = (2, 0)
        w = JournalWriter(path, header, module=self.seed.module, background=False,
                          frame_bytes=c.frame_bytes,
                          input_hash_threshold=self.seed.header.input_hash_threshold)
        calls = 0
        for rec in c.records:
            w.buf += rec
            calls += not is_event(rec)
            if len(w.buf) >= w.limit:
                w.flush_full()
        w.close(syscalls=calls + c.syscalls_delta, summary=c.summary or None)
