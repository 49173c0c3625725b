"""The moving commands: next, reverse-next, goto, continue, reverse-continue, run.

Each builds a ``session.Move``: where the guest must stop, and the reply made
when it arrives. Call breakpoints are resolved on the journal index here, so
the replay runs straight to the hit; watchpoints add a predicate the runner
checks at every syscall boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from .breakpoints import CallBreakpoint, Watchpoint
from .looking import describe_position
from .reply import DebugError, Reply
from .runner import RunTarget, Stop
from .session import Move, Session

__all__ = ["continue_", "goto", "next_", "reverse_continue", "reverse_next", "run_"]


def _count(words: list[str]) -> int:
    if not words:
        return 1
    try:
        n = int(words[0], 0)
    except ValueError:
        raise DebugError(f"{words[0]!r} is not a count") from None
    if n < 0:
        raise DebugError("the count must not be negative")
    return n


def _arrival(kind: str) -> Move:
    def arrive(session: Session) -> Reply:
        reply = describe_position(session)
        reply.data["moved"] = kind
        hit = [b for b in session.breakpoints
               if isinstance(b, CallBreakpoint) and session.position < len(session.index)
               and b.matches(session.index.calls[session.position],
                             session.index.signature(session.position))]
        if hit:
            reply.text = "\n".join(f"Breakpoint {b.id} ({b.spec})" for b in hit) + \
                "\n" + reply.text
            reply.data["breakpoints"] = [b.id for b in hit]
        return reply
    return Move(RunTarget(0), arrive)


def to(session: Session, target: int, kind: str) -> Move:
    """A move to ``target`` (clamped to the journal)."""
    target = max(0, min(target, session.limit))
    move = _arrival(kind)
    move.target = RunTarget(target if target < session.limit else None)
    move.backward = target < session.position or (
        session.ended is not None and target < session.limit)
    return move


def next_(session: Session, words: list[str]) -> Move:
    return to(session, session.position + _count(words), "next")


def reverse_next(session: Session, words: list[str]) -> Move:
    return to(session, session.position - _count(words), "reverse-next")


def goto(session: Session, words: list[str]) -> Move:
    if len(words) != 1:
        raise DebugError("goto: give one sequence number (goto SEQ, or goto PID:SEQ)")
    return to(session, session.resolve(words[0]), "goto")


def run_(session: Session, words: list[str]) -> Move:
    return to(session, 0, "run")


def _call_hits(session: Session, start: int, stop: int, step: int) -> int | None:
    breaks = [b for b in session.breakpoints if isinstance(b, CallBreakpoint)]
    if not breaks:
        return None
    index = session.index
    for n in range(start, stop, step):
        call = index.calls[n]
        sig = index.signature(n)
        if any(b.matches(call, sig) for b in breaks):
            return n
    return None


def _watches(session: Session) -> list[Watchpoint]:
    return [b for b in session.breakpoints if isinstance(b, Watchpoint)]


def _digest(stop: Stop, w: Watchpoint) -> bytes:
    mem = stop.adapter.memory
    mem.refresh()
    if w.addr + w.length > mem.size:
        return b""
    return hashlib.blake2b(mem.view[w.addr:w.addr + w.length], digest_size=16).digest()


def _read_watched(session: Session, w: Watchpoint) -> bytes:
    adapter = session.memory_adapter()
    mem = adapter.memory
    mem.refresh()
    if w.addr + w.length > mem.size:
        return b""
    return hashlib.blake2b(mem.view[w.addr:w.addr + w.length], digest_size=16).digest()


def continue_(session: Session, words: list[str]) -> Move:
    if session.ended is not None:
        raise DebugError("the program has ended; use run, goto or reverse-continue")
    hit = _call_hits(session, session.position + 1, session.limit, 1)
    move = to(session, hit if hit is not None else session.limit, "continue")
    watches = _watches(session)
    if watches:
        base = {w.id: _read_watched(session, w) for w in watches}
        start = session.position

        def changed(stop: Stop) -> bool:
            return stop.index > start and any(_digest(stop, w) != base[w.id] for w in watches)
        move.target.predicate = changed
        inner = move.arrive

        def arrive(s: Session) -> Reply:
            reply = inner(s)
            if s.stop is not None and s.stop.index != hit:
                moved = [w for w in watches if _digest(s.stop, w) != base[w.id]]
                if moved:
                    reply.text = "\n".join(f"Watchpoint {w.id} ({w.spec}) changed"
                                           for w in moved) + "\n" + reply.text
                    reply.data["watchpoints"] = [w.id for w in moved]
            return reply
        move.arrive = arrive
    move.arrive = _with_never_hit(move.arrive)
    return move


def _with_never_hit(arrive: Callable[[Session], Reply]) -> Callable[[Session], Reply]:
    def wrapped(session: Session) -> Reply:
        reply = arrive(session)
        if session.ended is not None:
            never = [b for b in session.breakpoints if isinstance(b, CallBreakpoint)
                     and not any(b.matches(c, session.index.signature(n))
                                 for n, c in enumerate(session.index.calls))]
            if never:
                lines = [f"breakpoint {b.id} ({b.spec}) never hit" for b in never]
                reply.text += "\n" + "\n".join(lines)
                reply.data["never_hit"] = [b.id for b in never]
        return reply
    return wrapped


def reverse_continue(session: Session, words: list[str]) -> Move:
    here = session.position
    hit = _call_hits(session, here - 1, -1, -1)
    target = hit if hit is not None else 0
    watches = _watches(session)
    if not watches:
        return to(session, target, "reverse-continue")
    # Watchpoints: replay from the start to here, noting the last boundary before
    # the memory last changed; then go there.
    last: dict[str, int] = {"at": target}
    previous: dict[int, bytes] = {}

    def scan(stop: Stop) -> bool:
        now = {w.id: _digest(stop, w) for w in watches}
        if previous and now != previous and stop.index - 1 > last["at"] and stop.index <= here:
            last["at"] = stop.index - 1
        previous.clear()
        previous.update(now)
        return False

    move = to(session, here, "reverse-continue")
    move.backward = True
    move.target.predicate = scan
    inner_arrive = _arrival("reverse-continue")

    def arrive(s: Session) -> Reply:
        if s.position != last["at"]:
            raise_move = to(s, last["at"], "reverse-continue")
            raise_move.arrive = inner_arrive.arrive
            s._pending = None
            from .session import _Pending
            s._pending = _Pending("reverse-continue", raise_move)
            s._restart = raise_move.target
            from .runner import Rewind
            raise Rewind(last["at"])
        return inner_arrive.arrive(s)
    move.arrive = arrive
    return move
