"""``snapshot -o NEW.wrr``: branch a live run off any position ("what if").

The branch is a journal that holds the run's state at the position as its
recorded prefix: the header (argv, env, preopens, the capture of host
directories), the module, and calls 0..N-1, marked with
``meta["wasi_rr.resume_at"] = N``. ``wasi-rr resume NEW.wrr`` then continues
live from N by re-execution (``reexec``), which works for every module
(instrumentable by asyncify or not) and at every syscall, whether or not the
recording took snapshots; ``wasi-rr debug``/``replay`` read it like any
journal that ends where the recording was stopped.
"""

from __future__ import annotations

import time
from dataclasses import replace

from wasi_rr.journal import JournalError, JournalWriter, StartEvent
from wasi_rr.journal.errors import JournalWriteError

from .reply import DebugError, Reply
from .session import Session

__all__ = ["RESUME_AT_KEY", "write_branch"]

RESUME_AT_KEY = "wasi_rr.resume_at"


def write_branch(session: Session, path: str) -> Reply:
    index = session.index
    if index.multi:
        raise DebugError("snapshot -o: not supported in journals with several processes "
                         "(WASIX fork); resume one of the journal's own snapshots instead")
    n = session.position
    header = index.header
    meta = {k: v for k, v in header.meta.items() if k != "resumed_from_snapshot"}
    meta[RESUME_AT_KEY] = n
    branch = replace(header, meta=meta, module_sha256="", extra={})
    try:
        writer = JournalWriter(path, branch, module=session.wasm, background=False,
                               input_hash_threshold=header.input_hash_threshold)
        try:
            pid = index.first_pid()
            writer.write_event(StartEvent(pid, tuple(header.argv), time.time_ns()))
            for call in index.calls[:n]:
                writer.write_call(call, keep_inputs=True)
            writer.close(syscalls=n)
        except BaseException:
            writer.abort()
            raise
    except (OSError, JournalError, JournalWriteError) as exc:
        raise DebugError(f"snapshot -o {path}: {exc}") from None
    where = session.here()
    return Reply(f"wrote {path}: `wasi-rr resume {path}` continues the program live from "
                 f"syscall #{where['seq']}", {"path": path, "resume_at": n})
