"""Open a journal for debugging: its index, module and engine, as one ``Session``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from wasi_rr.host.runtime.process import ModuleCache, default_cache_dir, make_engine
from wasi_rr.journal import JournalError, open_journal

from ..engine import ReplayError, _compiled, load_journal_module
from .index import JournalIndex
from .session import Frontend, Session

__all__ = ["open_session"]


def open_session(journal: str | os.PathLike[str], frontend: Frontend, *,
                 module: str | os.PathLike[str] | None = None,
                 warn: Callable[[str], None] | None = None) -> Session:
    """A session positioned nowhere yet (``drive()`` starts it at syscall 0).

    Raises ``ReplayError`` (no module, unreadable journal) and ``JournalError``
    when not even the journal's header is readable; damage later in the journal
    is a note, and every position before it works."""
    say = warn or (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        reader = open_journal(journal)
    except OSError as exc:
        raise ReplayError(f"cannot open journal {journal}: {exc.strerror or exc}") from None
    try:
        index = JournalIndex.read(journal)
        engine = make_engine()
        compiled, _ = _compiled(reader, engine, ModuleCache(default_cache_dir()), module, say)
        wasm, _ = load_journal_module(reader, module, lambda m: None)
    except (JournalError, ReplayError):
        reader.close()
        raise
    session = Session(index, reader, engine, compiled, wasm, frontend)
    from .dwarf import LineTable

    session.__dict__["_lines"] = LineTable.of(wasm)  # read once, up front (bt stays fast)
    if index.damage is not None:
        session.notes.append(f"the journal is damaged after syscall #{len(index)} "
                             f"({index.damage}); the debugger works up to there")
    return session
