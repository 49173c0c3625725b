"""``wasi-rr dap``: the debugger behind the Debug Adapter Protocol (IDEs).

A ``Frontend`` of the session: requests are read while the guest is stopped;
``continue``, ``next``, ``stepBack`` and ``reverseContinue`` become the
session's moves (a ``stopped`` event follows when the guest arrives);
function breakpoints are syscall names (``break NAME``, conditions allowed:
``fd_write fd=5``); ``stackTrace`` is the guest's wasm stack (sources where
DWARF has them) under a frame for the syscall itself; ``scopes``/``variables``
show the current call (arguments, result, what it writes) and the fd table;
``readMemory`` reads guest memory; ``evaluate`` runs any debugger command.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, BinaryIO

from wasi_rr.host.table.format import errno_name, param_text

from .commands import execute
from .dapio import read_message, write_message
from .reply import DebugError, Reply
from .session import Move, Session
from .stack import stack_of

__all__ = ["DapFrontend"]

_MOVES = {"continue": "continue", "next": "next", "stepIn": "next", "stepOut": "next",
          "stepBack": "reverse-next", "reverseContinue": "reverse-continue"}
_CAPABILITIES = {"supportsConfigurationDoneRequest": True, "supportsFunctionBreakpoints": True,
                 "supportsStepBack": True, "supportsReadMemoryRequest": True,
                 "supportsEvaluateForHovers": False, "supportsRestartRequest": False}
_CALL, _FDS = 1, 2


class DapFrontend:
    """See module docstring."""

    def __init__(self, inp: BinaryIO, out: BinaryIO) -> None:
        self.inp, self.out = inp, out
        self.seq = 0
        self.dap_breaks: list[int] = []

    # -- frontend ----------------------------------------------------------------------
    def read(self, session: Session) -> str | None:
        while True:
            msg = read_message(self.inp)
            if msg is None:
                return None
            if msg.get("type") != "request":
                continue
            command = msg.get("command", "")
            if command in _MOVES:
                self._respond(msg, {"allThreadsContinued": True} if command == "continue"
                              else {})
                return _MOVES[command]
            if command == "disconnect" or command == "terminate":
                self._respond(msg, {})
                return None
            handler = self._handlers().get(command)
            try:
                body = handler(session, msg.get("arguments") or {}) if handler else {}
            except DebugError as exc:
                self._respond(msg, None, error=str(exc))
                continue
            self._respond(msg, body)
            if command == "configurationDone":
                self._stopped(session, "entry")

    def emit(self, session: Session, command: str, reply: Reply) -> None:
        if command in _MOVES.values():
            reason = "breakpoint" if reply.data.get("breakpoints") or \
                reply.data.get("watchpoints") else "step"
            if not reply.ok:
                self._event("output", {"category": "console", "output": reply.text + "\n"})
            self._stopped(session, reason, reply.text)
        else:
            self._event("output", {"category": "console", "output": reply.text + "\n"})

    # -- requests ------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Callable[[Session, dict[str, Any]], dict[str, Any]]]:
        return {"initialize": self._initialize, "launch": lambda s, a: {},
                "attach": lambda s, a: {}, "configurationDone": lambda s, a: {},
                "setBreakpoints": lambda s, a: {"breakpoints": []},
                "setExceptionBreakpoints": lambda s, a: {},
                "setFunctionBreakpoints": self._function_breakpoints,
                "threads": lambda s, a: {"threads": [{"id": 1, "name": "guest"}]},
                "stackTrace": self._stack, "scopes": self._scopes,
                "variables": self._variables, "readMemory": self._read_memory,
                "evaluate": self._evaluate}

    def _initialize(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        self._event("initialized", {})
        return dict(_CAPABILITIES)

    def _function_breakpoints(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        if self.dap_breaks:
            execute(session, "delete " + " ".join(map(str, self.dap_breaks)))
        self.dap_breaks = []
        out = []
        for bp in args.get("breakpoints", []):
            try:
                reply = execute(session, f"break {bp.get('name', '')}")
                assert isinstance(reply, Reply)
                self.dap_breaks.append(reply.data["id"])
                out.append({"id": reply.data["id"], "verified": True, "message": reply.text})
            except DebugError as exc:
                out.append({"verified": False, "message": str(exc)})
        return {"breakpoints": out}

    def _stack(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        from .looking import _line_table, describe_position

        top = describe_position(session).text
        frames = [{"id": 0, "name": top, "line": 0, "column": 0,
                   "instructionPointerReference": str(session.position)}]
        if session.stop is not None:
            for k, f in enumerate(stack_of(session.stop.store, _line_table(session)), 1):
                frame: dict[str, Any] = {"id": k, "name": f.name, "line": 0, "column": 0}
                if f.where is not None:
                    frame.update(source={"name": f.where.file.rsplit("/", 1)[-1],
                                         "path": f.where.file}, line=f.where.line, column=1)
                frames.append(frame)
        return {"stackFrames": frames, "totalFrames": len(frames)}

    def _scopes(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        return {"scopes": [{"name": "Syscall", "variablesReference": _CALL, "expensive": False},
                           {"name": "File descriptors", "variablesReference": _FDS,
                            "expensive": True}]}

    def _variables(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        ref = args.get("variablesReference")
        if ref == _FDS:
            rows = execute(session, "fds")
            assert isinstance(rows, Reply)
            return {"variables": [_var(str(r["fd"]), f"{r['kind']} {r['path']} "
                                  f"offset={r['offset']}") for r in rows.data["fds"]]}
        n = session.position
        if n >= len(session.index):
            return {"variables": [_var("end", describe_position_text(session))]}
        call, sig = session.index.calls[n], session.index.signature(n)
        out = [_var("syscall", call.name), _var("seq", str(call.seq))]
        if sig is not None:
            out += [_var(p.name, param_text(sig, i, call.params[i]))
                    for i, p in enumerate(sig.params)]
        out.append(_var("result", errno_name(call.errno)))
        out += [_var(f"writes {a:#x}", d.hex() if len(d) <= 64 else f"{len(d)} bytes")
                for a, d in call.writes]
        return {"variables": out}

    def _read_memory(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        try:
            addr = int(str(args.get("memoryReference", "0")), 0) + int(args.get("offset", 0))
        except ValueError:
            raise DebugError("readMemory: memoryReference is not an address") from None
        count = min(int(args.get("count", 0)), 1 << 20)
        mem = session.memory_adapter().memory
        mem.refresh()
        end = min(addr + count, mem.size)
        data = bytes(mem.view[addr:end]) if 0 <= addr < end else b""
        return {"address": hex(addr), "data": base64.b64encode(data).decode("ascii"),
                "unreadableBytes": count - len(data)}

    def _evaluate(self, session: Session, args: dict[str, Any]) -> dict[str, Any]:
        result = execute(session, str(args.get("expression", "")))
        if isinstance(result, Move):
            raise DebugError("evaluate: use the step and continue buttons to move")
        if not result.ok:
            raise DebugError(result.text)
        return {"result": result.text, "variablesReference": 0}

    # -- wire ------------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        self.seq += 1
        write_message(self.out, {"seq": self.seq, **message})

    def _respond(self, request: dict[str, Any], body: dict[str, Any] | None, *,
                 error: str | None = None) -> None:
        msg: dict[str, Any] = {"type": "response", "request_seq": request.get("seq", 0),
                               "command": request.get("command", ""), "success": error is None}
        if error is not None:
            msg["message"] = error
        if body is not None:
            msg["body"] = body
        self._send(msg)

    def _event(self, event: str, body: dict[str, Any]) -> None:
        self._send({"type": "event", "event": event, "body": body})

    def _stopped(self, session: Session, reason: str, text: str = "") -> None:
        body = {"reason": reason, "threadId": 1, "allThreadsStopped": True,
                "description": text, **session.here()}
        self._event("stopped", body)


def _var(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value, "variablesReference": 0}


def describe_position_text(session: Session) -> str:
    from .looking import describe_position

    return describe_position(session).text
