"""Where the debugger's commands come from and where its answers go.

``LineFrontend`` serves the three ways of driving ``wasi-rr debug``: a
terminal (readline editing and a history file, a prompt), ``--batch`` (lines
from stdin or ``-x FILE``, no prompt) and ``--json`` (every command answers
exactly one JSON object on one line, with ``seq`` and ``pid`` of the position
after the command: for tests and tools).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from .reply import Reply
from .session import Session

__all__ = ["HISTORY_FILE", "LineFrontend"]

HISTORY_FILE = Path(os.environ.get("WASI_RR_DEBUG_HISTORY",
                                   Path.home() / ".wasi-rr-debug-history"))


class LineFrontend:
    """Commands from lines (a terminal, a pipe or a file), replies as text or JSON."""

    def __init__(self, lines: Iterator[str] | None, out: TextIO, *, as_json: bool,
                 interactive: bool) -> None:
        self.lines = lines
        self.out = out
        self.as_json = as_json
        self.interactive = interactive
        self.errors = 0
        if interactive:
            _start_readline()

    def read(self, session: Session) -> str | None:
        if self.interactive:
            where = session.here()
            label = "end" if where["end"] else f"#{where['seq']}"
            if session.index.multi:
                label = f"{where['pid']}:{label}"
            try:
                return input(f"(wasi-rr {label}) ")
            except EOFError:
                print(file=self.out)
                return None
            except KeyboardInterrupt:
                print("^C", file=self.out)
                return ""
        assert self.lines is not None
        return next(self.lines, None)

    def emit(self, session: Session, command: str, reply: Reply) -> None:
        if not reply.ok:
            self.errors += 1
        if self.as_json:
            obj = {"command": command, "ok": reply.ok, **session.here(), **reply.data,
                   "text": reply.text}
            if reply.notes:
                obj["notes"] = reply.notes
            print(json.dumps(obj, default=str), file=self.out, flush=True)
            return
        for note in reply.notes:
            print(f"note: {note}", file=self.out)
        text = reply.text if reply.ok else f"error: {reply.text}"
        if text:
            print(text, file=self.out, flush=True)


def _start_readline() -> None:
    try:
        import atexit
        import readline
    except ImportError:  # pragma: no cover - a Python without readline
        return
    try:
        readline.read_history_file(HISTORY_FILE)
    except OSError:
        pass
    readline.set_history_length(1000)

    def save() -> None:
        try:
            readline.write_history_file(HISTORY_FILE)
        except OSError:
            pass
    atexit.register(save)


def stdin_lines() -> Iterator[str]:
    for line in sys.stdin:
        yield line.rstrip("\n")
