"""``JournalRecorder``: what the adapter's generated RECORD callbacks write into.

It gives each adapter an ``emit(fid, flags, params, errno, inputs, writes)``
that appends the call's binary record to the writer's buffer
(``journal.records.append_call``), after three things only a recorder knows:

- **processes**: records carry no pid; when a call of another process than
  the journal's current one comes, a ``ctx`` event is written first;
- **digests**: inputs longer than the threshold are stored as their sha256,
  except the bytes of a write that reached stdout/stderr (``flags``);
- **redaction** (``--redact-env NAME``): the secret value, wherever it appears
  in an input or a write (stdout, files, paths, the environment block itself),
  also across the buffers of one call (a ``writev`` may split it), is
  replaced by a placeholder of the same length, so the journal never holds it
  and a replay, whose guest sees the placeholder in its environment, asks and
  gets exactly the recorded bytes (README, ``--redact-env``, says what this can
  and cannot hide).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wasi_rr.host.boundary.adapter import Emit, HostAdapter
from wasi_rr.host.table import Signature
from wasi_rr.journal import CtxEvent, Event, InputDigest, JournalWriter, StartEvent
from wasi_rr.journal.records import append_call

PLACEHOLDER_BYTE = b"*"
MIN_SECRET_BYTES = 4
"""Shorter values would also replace unrelated bytes of the journal (and make
the replay diverge there): ``--redact-env`` refuses them."""


def placeholder(value: str) -> str:
    return "*" * len(value.encode())


def redact_value(value: Any, secrets: Mapping[str, str]) -> Any:
    """``value`` (str, bytes, or lists/dicts of them, keys included) with every
    secret replaced by its placeholder: for what a journal holds outside the
    call records (the header's argv, preopens and metadata such as the
    captured host directories, a forked child's argv)."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets.values():
            value = value.replace(secret, placeholder(secret))
        return value
    if isinstance(value, bytes):
        return _redact(value, [(s.encode(), PLACEHOLDER_BYTE * len(s.encode()))
                               for s in secrets.values()])
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v, secrets) for v in value)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    return value


class JournalRecorder:
    """The ``Recorder`` of the adapter, over one ``JournalWriter``."""

    def __init__(self, writer: JournalWriter, redact: Mapping[str, str] | None = None,
                 *, wasm: bool = True) -> None:
        self.writer = writer
        self.wasm = wasm and not redact
        """Journal the common calls in wasm (``wasmtape``); not while redacting
        (every byte must then pass ``emit``'s substitution)."""
        self.tape: Any = None
        """The ``WasmTape`` of the run, once linked."""
        writer.direct = True
        self._cur = [0]
        """The process the next records belong to, as a reader will see it (a cell
        the generated callbacks compare their pid with)."""
        self.redact: dict[str, str] = {k: v for k, v in (redact or {}).items() if v}
        """The redacted variables' values (``--redact-env``)."""
        self._secrets = [(v.encode(), PLACEHOLDER_BYTE * len(v.encode()))
                         for v in self.redact.values()]

    # -- the adapter's side ---------------------------------------------------------
    def function_id(self, sig: Signature) -> int:
        return self.writer.function_id(sig.module, sig.name)

    def emitter(self, adapter: HostAdapter) -> Emit:
        """``emit`` for ``adapter``'s process (``adapter.pid``)."""
        buf = self.writer.buf
        limit = self.writer.limit
        flush_full = self.writer.flush_full
        threshold = self.writer.threshold
        secrets = self._secrets
        counter = adapter.counter
        recorder = self

        def emit(fid: int, flags: int, params: tuple[int, ...], errno: int,
                 ins: list[tuple[int, Any]], outs: list[tuple[int, bytes]]) -> None:
            pid = adapter.pid
            if recorder.pid != pid:
                recorder.set_process(pid, counter.n - 1)
            if secrets:
                ins = _redact_call(ins, secrets)
                outs = _redact_call(outs, secrets)
            if threshold is not None and not flags:
                ins = [(a, InputDigest.of(d) if len(d) > threshold else d) for a, d in ins]
            append_call(buf, fid, flags, params, errno, ins, outs)
            if len(buf) >= limit:
                flush_full()
        return emit

    def fast_env(self, adapter: HostAdapter) -> dict[str, Any] | None:
        """Lets simple RECORD callbacks append their records themselves; not while
        redacting (every byte must then pass ``emit``'s substitution)."""
        if self._secrets:
            return None
        w = self.writer
        return {"BUF": w.buf, "EXTEND": w.buf.extend, "LIMIT": w.limit, "FLUSH": w.flush_full,
                "CUR": self._cur, "PID": adapter.pid,
                "THRESHOLD": w.threshold if w.threshold is not None else 1 << 62}

    def link_hooks(self, adapter: HostAdapter, module: Any, cache: Any) -> Any:
        """The wasm recorder for ``adapter``'s guest (``host.runtime.process.LinkHooks``),
        or None to record every call in Python. Asked only for a lone process:
        process groups (snapshots, fork) always record in Python."""
        if not self.wasm:
            return None
        from .wasmtape import WasmTape

        self.tape = WasmTape.for_guest(module, adapter, self.writer, cache)
        return self.tape

    @property
    def pid(self) -> int:
        return self._cur[0]

    @pid.setter
    def pid(self, value: int) -> None:
        self._cur[0] = value

    # -- events ---------------------------------------------------------------------
    def set_process(self, pid: int, next_seq: int) -> None:
        """The following records are ``pid``'s, from its syscall ``next_seq`` on."""
        self.writer.write_event(CtxEvent(pid, next_seq))
        self.pid = pid

    def redacted(self, value: Any) -> Any:
        """``value`` with this recording's secrets replaced (``redact_value``)."""
        return redact_value(value, self.redact)

    def event(self, event: Event) -> None:
        self.writer.write_event(event)
        if isinstance(event, (StartEvent, CtxEvent)):
            self.pid = event.pid

    def syscalls(self) -> int | None:
        """The call count for the journal's END frame: None, not counted (counting
        cost every recorded call a few percent, and the frames' sequence numbers
        already catch a missing frame; readers count)."""
        return None


def _redact(data: Any, secrets: list[tuple[bytes, bytes]]) -> Any:
    if type(data) is not bytes:
        return data
    for secret, mask in secrets:
        if secret in data:
            data = data.replace(secret, mask)
    return data


def _redact_call(items: list[tuple[int, Any]], secrets: list[tuple[bytes, bytes]]
                 ) -> list[tuple[int, Any]]:
    """A call's buffers with every secret masked, also one that spans two of them
    (the iovecs of a ``writev``): the buffers are masked as one string and cut
    back at their lengths (the mask has the secret's length)."""
    lengths = [len(d) for _, d in items if type(d) is bytes]
    if not lengths:
        return items
    joined = b"".join(d for _, d in items if type(d) is bytes)
    masked = _redact(joined, secrets)
    if masked is joined:
        return items
    out: list[tuple[int, Any]] = []
    pos = 0
    for addr, data in items:
        if type(data) is bytes:
            data, pos = masked[pos:pos + len(data)], pos + len(data)
        out.append((addr, data))
    return out
