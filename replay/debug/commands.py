"""The debugger's command set: parsing a line and dispatching it.

Names follow gdb's where one exists. A command returns a ``Reply`` (answered at
once) or a ``session.Move`` (answered when the guest arrives). Unknown
commands and malformed arguments are ``DebugError``s: one line, the session
goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import looking, moves
from .breakpoints import Watchpoint, parse_break, parse_watch, tokens
from .reply import DebugError, Reply
from .runner import Quit
from .session import Move, Session

__all__ = ["COMMANDS", "execute", "help_text"]

Handler = Callable[[Session, list[str]], "Reply | Move"]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    usage: str
    summary: str


def _break(session: Session, words: list[str]) -> Reply:
    bp = parse_break(session.next_id, words)
    session.next_id += 1
    session.breakpoints.append(bp)
    hits = sum(1 for n, c in enumerate(session.index.calls)
               if bp.matches(c, session.index.signature(n)))
    note = f" ({hits} call(s) of the journal match)" if hits else \
        " (no call of the journal matches it: it will never hit)"
    return Reply(f"Breakpoint {bp.id}: {bp.spec}{note}", {"id": bp.id, "matches": hits})


def _watch(session: Session, words: list[str]) -> Reply:
    wp = parse_watch(session.next_id, words)
    session.next_id += 1
    session.breakpoints.append(wp)
    return Reply(f"Watchpoint {wp.id}: {wp.length} bytes at {wp.addr:#x} (continue and "
                 "reverse-continue now look at memory at every syscall)", {"id": wp.id})


def _delete(session: Session, words: list[str]) -> Reply:
    if not words:
        gone = [b.id for b in session.breakpoints]
        session.breakpoints.clear()
        return Reply(f"deleted {len(gone)} breakpoint(s)", {"deleted": gone})
    try:
        wanted = {int(w) for w in words}
    except ValueError:
        raise DebugError("delete: give breakpoint numbers (delete [ID...])") from None
    known = {b.id for b in session.breakpoints}
    missing = sorted(wanted - known)
    if missing:
        raise DebugError(f"delete: no breakpoint {', '.join(map(str, missing))}")
    session.breakpoints[:] = [b for b in session.breakpoints if b.id not in wanted]
    return Reply(f"deleted {', '.join(map(str, sorted(wanted)))}", {"deleted": sorted(wanted)})


def _info(session: Session, words: list[str]) -> Reply:
    if words and words[0] in ("break", "breakpoints", "b", "watch"):
        rows, lines = [], []
        for b in session.breakpoints:
            kind = "watch" if isinstance(b, Watchpoint) else "break"
            rows.append({"id": b.id, "kind": kind, "spec": b.spec})
            lines.append(f"{b.id:>3}  {kind:<6} {b.spec}")
        return Reply("\n".join(lines) or "no breakpoints", {"breakpoints": rows})
    return looking.info(session, words)


def _snapshot(session: Session, words: list[str]) -> Reply:
    from .branch import write_branch

    if len(words) != 2 or words[0] != "-o":
        raise DebugError("snapshot: snapshot -o NEW.wrr")
    return write_branch(session, words[1])


def _help(session: Session, words: list[str]) -> Reply:
    return Reply(help_text(), {"commands": sorted(COMMANDS)})


def _quit(session: Session, words: list[str]) -> Reply:
    raise Quit("quit")


_TABLE = [
    Command("next", moves.next_, "next [N]", "execute N syscalls (default 1) and stop"),
    Command("reverse-next", moves.reverse_next, "reverse-next [N]", "go back N syscalls"),
    Command("goto", moves.goto, "goto SEQ | goto PID:SEQ", "go to syscall SEQ (back or forth)"),
    Command("continue", moves.continue_, "continue",
            "run to the next breakpoint or watchpoint hit, or the end"),
    Command("reverse-continue", moves.reverse_continue, "reverse-continue",
            "go back to the previous breakpoint or watchpoint hit, or the start"),
    Command("run", moves.run_, "run", "back to the start (syscall 0)"),
    Command("break", _break, "break NAME [fd=N] [path=GLOB] [errno=NAME|fail] [data=/RE/] | "
            "break seq N", "stop at matching syscalls"),
    Command("watch", _watch, "watch ADDR LEN", "stop where that guest memory changed"),
    Command("delete", _delete, "delete [ID...]", "delete breakpoints (all without IDs)"),
    Command("info", _info, "info | info break | info memory",
            "the current call and the result it gets; breakpoints; memory size and digest"),
    Command("bt", looking.backtrace, "bt", "the guest's call stack (file:line with DWARF)"),
    Command("x", looking.examine, "x ADDR [LEN]", "guest memory in hex and text"),
    Command("p", looking.print_value, "p str|i32|i64 ADDR", "a value in guest memory"),
    Command("fds", looking.fds, "fds", "the fd table: kinds, paths, offsets"),
    Command("ls", looking.ls, "ls [PATH]", "a directory of the guest's filesystem here"),
    Command("cat", looking.cat, "cat PATH", "a file of the guest's filesystem here"),
    Command("stat", looking.stat, "stat PATH", "a file's metadata here"),
    Command("args", looking.args, "args", "the guest's argv"),
    Command("env", looking.env, "env", "the guest's environment"),
    Command("output", looking.output, "output", "stdout and stderr up to here"),
    Command("snapshot", _snapshot, "snapshot -o NEW.wrr",
            "write a journal that `wasi-rr resume` continues live from here"),
    Command("help", _help, "help", "this list"),
    Command("quit", _quit, "quit", "leave the debugger"),
]
COMMANDS: dict[str, Command] = {c.name: c for c in _TABLE}
_ALIASES = {"n": "next", "rn": "reverse-next", "c": "continue", "rc": "reverse-continue",
            "b": "break", "d": "delete", "i": "info", "backtrace": "bt", "where": "bt",
            "q": "quit", "exit": "quit", "h": "help", "r": "run", "print": "p"}


def help_text() -> str:
    width = max(len(c.usage) for c in _TABLE)
    return "\n".join(f"  {c.usage:<{width}}  {c.summary}" for c in _TABLE) + \
        "\nPositions: syscall sequence numbers as `dump` shows them (PID:SEQ in fork journals)."


def execute(session: Session, line: str) -> Reply | Move:
    words = tokens(line)
    name = _ALIASES.get(words[0], words[0])
    command = COMMANDS.get(name)
    if command is None:
        raise DebugError(f"unknown command {words[0]!r} (try help)")
    return command.handler(session, words[1:])

