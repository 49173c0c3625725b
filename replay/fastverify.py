"""``--verify`` at recording speed: re-execute, re-record, compare bytes.

A verified call must ask the recorded question *and* get the recorded answer
from a kernel rebuilt from the journal. Both halves are exactly what the
generated RECORD callback produces: the call's binary record. So each call is
run through that callback on the rebuilt kernel, with a scratch buffer as the
journal, and the bytes are compared with the record at the tape cursor. Equal
bytes (the common case) mean the question matched and the kernel answered
alike: the guest already holds that answer, the tape advances, and no Python
per role ran beyond the generated code.

Everything else goes to the Python answer path (``answer.Answerer`` with
``verify.KernelVerifier``), which compares field by field, masks what a rebuilt
kernel cannot reproduce (file times, host inode numbers), applies the recorded
answer and reports: events and frame ends at the cursor, irregular calls, calls
whose answer comes from outside (clocks, randomness, stdin, poll: the rebuilt
kernel's sources must first be fed the recorded value) and every mismatch. On a
byte mismatch the call was already re-executed once, so the Python path only
decides and reports, from the record and the kernel's answer it got.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from wasi_rr.host.boundary import fastcall
from wasi_rr.host.boundary.adapter import Emit, HostAdapter
from wasi_rr.host.table import Feed, Signature, Verify
from wasi_rr.journal import InputDigest
from wasi_rr.journal.records import EVENT_FID, append_call

from .answer import Answerer, JournalAbort
from .tape import Tape

__all__ = ["FastVerifier"]

_HEAD: Final = struct.Struct("<IH")
_ERRNO: Final = struct.Struct("<i")


class _Scratch:
    """The ``Recorder`` of the re-executed calls: one record at a time."""

    def __init__(self, functions: dict[str, int], threshold: int | None) -> None:
        self.buf = bytearray()
        self.fids = functions
        self.threshold = threshold

    def function_id(self, sig: Signature) -> int:
        return self.fids.get(f"{sig.module}::{sig.name}", 0xFFFF)

    def emitter(self, adapter: HostAdapter) -> Emit:
        buf, threshold = self.buf, self.threshold

        def emit(fid: int, flags: int, params: tuple[int, ...], errno: int,
                 ins: list[tuple[int, Any]], outs: list[tuple[int, bytes]]) -> None:
            if threshold is not None and not flags:
                ins = [(a, InputDigest.of(d) if len(d) > threshold else d) for a, d in ins]
            append_call(buf, fid, flags, params, errno, ins, outs)
        return emit

    def fast_env(self, adapter: HostAdapter) -> dict[str, Any]:
        return {"BUF": self.buf, "EXTEND": self.buf.extend, "LIMIT": 1 << 62,
                "FLUSH": None, "CUR": [adapter.pid], "PID": adapter.pid,
                "THRESHOLD": self.threshold if self.threshold is not None else 1 << 62}


class FastVerifier:
    """The replay ``source`` of ``--verify`` (see module docstring)."""

    def __init__(self, tape: Tape, answerer: Answerer, kernel: Any) -> None:
        self.tape = tape
        self.answerer = answerer
        self.kernel = kernel
        names = {f"{m}::{n}": i for i, (m, n) in enumerate(tape.functions)}
        self.scratch = _Scratch(names, tape.reader.header.input_hash_threshold)

    def source(self, sig: Signature, adapter: HostAdapter) -> fastcall.RawCallback:
        slow = self.answerer.source(sig, adapter)
        if sig.irregular is not None or sig.verify is Verify.FROM_JOURNAL \
                or sig.feed not in (Feed.NONE, Feed.STDIN):
            return slow
        return self._fast(sig, adapter, slow)

    def _inner(self, sig: Signature, adapter: HostAdapter) -> fastcall.RawCallback:
        """The generated RECORD callback on the rebuilt kernel, over the guest's memory."""
        inner = HostAdapter(self.kernel, recorder=self.scratch)
        inner.memory = adapter.memory
        inner.pid = adapter.pid
        inner.stop_guest = adapter.stop_guest  # type: ignore[method-assign]
        return inner.callback(sig)

    def _fast(self, sig: Signature, adapter: HostAdapter,
              slow: fastcall.RawCallback) -> fastcall.RawCallback:
        inner = self._inner(sig, adapter)
        tape, scratch, answerer = self.tape, self.scratch.buf, self.answerer
        slots_type = fastcall.raw_slots(len(sig.params))
        unpack = sig.raw_struct.unpack_from
        # a read of stdin consumes recorded input: the Python path feeds it first
        is_stdin = self.kernel.is_stdin if sig.feed is Feed.STDIN else None

        def callback(env: Any, caller: Any, args: int, count: int) -> int:
            try:
                payload, off = tape.payload, tape.off
                if off + 6 > len(payload):
                    return slow(env, caller, args, count)
                size, fid = _HEAD.unpack_from(payload, off)
                if fid == EVENT_FID or tape.mirror is not None:
                    return slow(env, caller, args, count)
                slots = fastcall.slots_at(slots_type, args)
                params = unpack(slots)
                if is_stdin is not None and is_stdin(params[0]):
                    return slow(env, caller, args, count)
                del scratch[:]
                trap = inner(env, caller, args, count)
                if trap:
                    return trap
                if scratch == payload[off:off + size] and not payload[off + 6]:
                    tape.off = off + size
                    st = tape.state
                    st.seqs[st.pid] = st.seqs.get(st.pid, 0) + 1
                    st.entries += 1
                    st.calls += 1
                    adapter.counter.n += 1
                    answerer.fast_verified += 1
                    return 0
                # different bytes, or output to print: the Python path decides from
                # the record and the answer the kernel just gave
                errno = answerer.settle(adapter, sig, params, bytes(scratch))
                if sig.result is not None:
                    _ERRNO.pack_into(slots, 0, errno)
                return 0
            except JournalAbort as exc:
                return adapter.stop_guest(sig, exc)
            except BaseException as exc:  # must never leave a ctypes callback
                return adapter.stop_guest(sig, exc)
        return callback
