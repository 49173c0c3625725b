"""The Python backend of a replay: answer one call from the tape, or report why not.

Every import gets the same generic callback (``source``): no per-syscall code
is needed, because a record already says everything: check the guest asked
the recorded question (function, every param, every input range at its
recorded address, byte for byte or by digest), apply the recorded writes,
print what reached stdout/stderr, return the recorded errno. Nothing of the
host is touched: no file, clock, environment or network.

This is also where the wasm replayer hands over whenever it cannot answer a
call itself (a mismatch, a digest, an event, the end of a frame...), so a
divergence is always found and reported here, by the same code, whichever path
met it first: the reports are identical by construction.

A journal problem met inside a callback (a damaged or crafted record) cannot
be raised through wasmtime; it travels as ``JournalAbort`` and the engine
re-raises the ``JournalError`` it carries.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any, Final, NoReturn, Protocol

from wasi_rr.host.boundary import fastcall
from wasi_rr.host.boundary.adapter import GuestAbort, HostAdapter
from wasi_rr.host.boundary.memory import GuestMemory
from wasi_rr.host.kernel.wasi_types import ProcExit
from wasi_rr.host.table import Role, Signature
from wasi_rr.journal import Call, ExitEvent, InputDigest, JournalError, TrapEvent
from wasi_rr.journal.records import HEADER_SIZE, RawRecord, is_event, parse_call

from .divergence import (
    HISTORY,
    Divergence,
    DivergenceError,
    DivergenceKind,
    compare_call,
    ending_text,
    format_entry,
    format_question,
)
from .output import Output
from .tape import Position, Tape

__all__ = ["Answerer", "JournalAbort", "RecordingEnded", "Verifier"]

_U32: Final = struct.Struct("<I")


class JournalAbort(GuestAbort):
    """Carries a ``JournalError`` met inside a callback out of wasmtime."""

    def __init__(self, error: JournalError) -> None:
        super().__init__(str(error))
        self.error = error


class _Redo(Exception):
    """``settle`` found no call at the cursor: the ordinary path reports it."""


class RecordingEnded(GuestAbort):
    """The journal ends with an interrupted recording and the guest has reached
    that point: the replay stops there (it matched everything recorded)."""


class Verifier(Protocol):
    """``--verify``: re-executes a call that matched its record and returns a
    divergence if the re-executed answer differs from the recorded one."""

    verified: int

    def check(self, adapter: HostAdapter, sig: Signature, params: tuple[int, ...],
              call: Call) -> Divergence | None: ...

    def close(self) -> None: ...


class Answerer:
    """Answers calls from a ``Tape`` (see module docstring)."""

    def __init__(self, tape: Tape, output: Output, verifier: Verifier | None = None) -> None:
        self.tape = tape
        self.output = output
        self.verifier = verifier
        self.divergence: Divergence | None = None
        self.entries = 0
        """How many times Python was entered (the replayer's tests count them)."""
        self.fast_verified = 0
        """``--verify``: calls ``fastverify`` verified byte for byte (without Python)."""
        self.before_call: Callable[[HostAdapter, Signature, tuple[int, ...]], None] | None = None
        """Debugger/snapshot hook, run before a call is answered."""

    # -- the adapter's callback ------------------------------------------------------
    def source(self, sig: Signature, adapter: HostAdapter) -> fastcall.RawCallback:
        """The raw callback answering ``sig`` for ``adapter`` (a ``CallbackSource``)."""
        answer = self.answer

        def stop_here(exc: BaseException) -> int:
            return adapter.stop_guest(sig, exc)

        def call(params: tuple[int, ...]) -> int:
            return answer(adapter, sig, params)
        return fastcall.params_callback(len(sig.params), sig.raw_struct.unpack_from, call,
                                        stop_here, sig.result is not None)

    def answer(self, adapter: HostAdapter, sig: Signature, params: tuple[int, ...]) -> int:
        interceptor = adapter.interceptor
        if interceptor is not None:  # the process group's seam (fork, parking, snapshots)
            early = interceptor.before_call(sig, params)
            if early is not None:
                return int(early)
        adapter.counter.n += 1
        self.entries += 1
        tape = self.tape
        tape.sync_in()
        try:
            if self.before_call is not None:
                self.before_call(adapter, sig, params)
            return self._answer(adapter, sig, params)
        except JournalError as exc:
            raise JournalAbort(exc) from None
        finally:
            tape.sync_out()

    def _answer(self, adapter: HostAdapter, sig: Signature, params: tuple[int, ...]) -> int:
        tape = self.tape
        pos = tape.next_call(adapter.pid)
        if pos is None:
            ending = tape.state.endings.get(adapter.pid) or _peek_ending(tape, adapter.pid)
            if isinstance(ending, ExitEvent) and ending.interrupted:
                raise RecordingEnded(f"the recording was interrupted before syscall #{tape.seq}")
            other = tape.peek()
            if isinstance(other, Position) and tape.state.pid != adapter.pid:
                theirs = tape.call(tape.parse(other))
                self._diverge(Divergence(
                    DivergenceKind.CALL_MISMATCH, tape.state.seqs.get(adapter.pid, 0),
                    f"process {adapter.pid} made a syscall where the journal has one of "
                    f"process {theirs.pid}",
                    expected=f"[pid {theirs.pid}] {format_entry(theirs)}",
                    actual=format_question(tape.seq, sig.module, sig.name, params,
                                           self._question(adapter, sig, params))))
            self._diverge(Divergence(
                DivergenceKind.EXTRA_CALL, tape.seq,
                f"the guest called {sig.name} after the last recorded syscall",
                expected=ending_text(ending),
                actual=format_question(tape.seq, sig.module, sig.name, params,
                                       self._question(adapter, sig, params))))
        raw = tape.parse(pos)
        if (tape.functions[raw.fid] != sig.key or raw.params != params
                or not inputs_match(adapter.memory, raw)):
            self._mismatch(adapter, sig, params, tape.call(raw))
        call = tape.call(raw)
        if self.verifier is not None:
            failure = self.verifier.check(adapter, sig, params, call)
            if failure is not None:
                self._diverge(failure)
        apply_writes(adapter.memory, raw, tape)
        if raw.flags:
            self.output.emit(raw.flags, stdio_bytes(sig, params, raw, adapter.memory))
        tape.advance(pos)
        if sig.exits:
            raise ProcExit(params[0])
        if _interrupted_next(tape):
            raise RecordingEnded(f"the recording was interrupted after syscall #{tape.seq - 1}")
        return raw.errno

    def settle(self, adapter: HostAdapter, sig: Signature, params: tuple[int, ...],
               redone: bytes) -> int:
        """``--verify``'s byte comparison failed (``fastverify``): the call was
        re-executed and re-recorded as ``redone``; decide field by field from the
        record at the cursor, then answer as ``answer`` does."""
        tape = self.tape
        tape.sync_in()
        try:
            pos = tape.next_call(adapter.pid)
            if pos is None:
                raise _Redo()
            raw = tape.parse(pos)
            mine = parse_call(redone, 0, len(redone), len(tape.functions))
            if (tape.functions[raw.fid] != sig.key or raw.params != params
                    or raw.inputs != mine.inputs):
                self._mismatch(adapter, sig, params, tape.call(raw),
                               [d for _, d in mine.inputs])
            call = tape.call(raw)
            judge = getattr(self.verifier, "judge", None)
            if judge is not None:
                failure = judge(sig, params, call, [d for _, d in mine.inputs], mine.errno,
                                list(mine.writes))
                if failure is not None:
                    self._diverge(failure)
                self.fast_verified += 1
            apply_writes(adapter.memory, raw, tape)
            if raw.flags:
                self.output.emit(raw.flags, stdio_bytes(sig, params, raw, adapter.memory))
            tape.advance(pos)
            if _interrupted_next(tape):
                raise RecordingEnded(
                    f"the recording was interrupted after syscall #{tape.seq - 1}")
            return raw.errno
        except _Redo:
            return self._answer(adapter, sig, params)
        except JournalError as exc:
            raise JournalAbort(exc) from None
        finally:
            tape.sync_out()

    # -- reports ---------------------------------------------------------------------
    def _question(self, adapter: HostAdapter, sig: Signature,
                  params: tuple[int, ...]) -> list[bytes]:
        """What the guest asked, decoded by the table (inputs read from its memory)."""
        if sig.irregular is not None:
            return [d for _, d in _irregular_inputs(sig, adapter.memory, params)]
        ins, _, _ = adapter.observer(sig)(params)
        return [d for _, d in ins]

    def _mismatch(self, adapter: HostAdapter, sig: Signature, params: tuple[int, ...],
                  expected: Call, inputs: list[Any] | None = None) -> NoReturn:
        if inputs is None:
            inputs = self._question(adapter, sig, params)
        diffs = compare_call(expected, sig.module, sig.name, params, inputs)
        what = ", ".join(d.what for d in diffs) or "input addresses"
        self._diverge(Divergence(
            DivergenceKind.CALL_MISMATCH, expected.seq,
            f"the guest's call differs from the journal in {what}",
            expected=format_entry(expected),
            actual=format_question(expected.seq, sig.module, sig.name, params, inputs),
            fields=diffs))

    def history_lines(self) -> list[str]:
        return [f"#{c.seq} {format_entry(c)}" for c in self.tape.recent(HISTORY)]

    def _diverge(self, divergence: Divergence) -> NoReturn:
        divergence.history = self.history_lines()
        self.divergence = divergence
        raise DivergenceError(divergence)


def _interrupted_next(tape: Tape) -> bool:
    """The recording was stopped by Ctrl-C right after the call just answered.

    Nothing the guest did after its last recorded call was observable, and a
    guest stopped while computing (the usual reason for Ctrl-C) makes no further
    syscall: the replay stops here instead of spinning forever. One header read
    when a call follows (the common case); the wasm replayer leaves every call
    before an event or a frame's end to Python, so this sees every such ending.
    A damaged journal met by this look ahead is reported here, one call early:
    the call's own answer and output were already given.
    """
    payload, off = tape.payload, tape.off
    if off + HEADER_SIZE <= len(payload) and not is_event(payload, off):
        return False
    item = tape.peek()
    return isinstance(item, ExitEvent) and item.interrupted


def _peek_ending(tape: Tape, pid: int) -> ExitEvent | TrapEvent | None:
    item = tape.peek()
    if isinstance(item, (ExitEvent, TrapEvent)) and item.pid == pid:
        return item
    return None


def inputs_match(mem: GuestMemory, raw: RawRecord) -> bool:
    """Every recorded input is at its address in guest memory now."""
    for addr, data in raw.inputs:
        length = len(data)
        if addr + length > mem.size:
            mem.refresh()
            if addr + length > mem.size:
                return False
        if isinstance(data, InputDigest):
            if hashlib.sha256(mem.view[addr:addr + length]).digest() != data.sha256:
                return False
        elif mem.view[addr:addr + length] != data:
            return False
    return True


def apply_writes(mem: GuestMemory, raw: RawRecord, tape: Tape) -> None:
    """Write the recorded answer into guest memory; a write outside it is a lie of
    the journal (the guest asked the same question, so its out params are the
    recorded ones, which were inside memory when recorded)."""
    for addr, data in raw.writes:
        if addr + len(data) > mem.size:
            mem.refresh()
            if addr + len(data) > mem.size:
                from wasi_rr.journal import BadEntry

                raise BadEntry(tape.state.entries, "write",
                               f"to {addr:#x}+{len(data)} lies outside guest memory "
                               f"({mem.size} bytes)", tape.frame_offset)
    for addr, data in raw.writes:
        mem.view[addr:addr + len(data)] = data


def stdio_bytes(sig: Signature, params: tuple[int, ...], raw: RawRecord,
                mem: GuestMemory) -> bytes:
    """What the call put on stdout/stderr: its buffers (after the iovec array),
    cut to the count it answered. Digested buffers are taken from guest memory,
    where they were just checked to be."""
    parts = []
    for addr, data in raw.inputs[1:]:
        parts.append(bytes(mem.view[addr:addr + len(data)]) if isinstance(data, InputDigest)
                     else data)
    blob = b"".join(parts)
    count = _count_out(sig, params, raw)
    return blob[:count] if count is not None else b""


def _count_out(sig: Signature, params: tuple[int, ...], raw: RawRecord) -> int | None:
    """The u32 the call wrote at its first plain ``OUT`` param (``nwritten``)."""
    for i, p in enumerate(sig.params):
        if p.role is Role.OUT and p.out is not None and p.out.size == 4:
            for addr, data in raw.writes:
                if addr == params[i] and len(data) == 4:
                    return int(_U32.unpack(data)[0])
            return None
    return None


def _irregular_inputs(sig: Signature, mem: GuestMemory,
                      params: tuple[int, ...]) -> list[tuple[int, bytes]]:
    """``proc_join`` reads its option_pid; the other irregular calls read nothing."""
    for i, p in enumerate(sig.params):
        if p.role is Role.INOUT and p.out is not None:
            addr = params[i]
            if addr + p.out.size <= mem.size:
                return [(addr, bytes(mem.view[addr:addr + p.out.size]))]
    return []


