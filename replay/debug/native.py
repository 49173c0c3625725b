"""``replay --gdb`` / ``--lldb``: the replay under a native debugger, at source level.

The replay runs in a child Python process started by gdb (or lldb) with
wasmtime's DWARF support on (``make_engine(debug=True)``: ``debug_info`` and no
optimisation), so the guest's functions and lines are the debugger's own
breakpoints, ``bt`` shows the guest's frames with file:line, ``info locals``
and ``next`` work, and ``run`` restarts the same deterministic replay.
``--break-at SEQ`` makes the replay raise SIGTRAP on its own thread inside the
host callback of syscall SEQ, which stops the debugger there with the guest's
frames on the stack. Like gdb itself, commands come from stdin when it is not a
terminal, so scripts can drive it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence

from wasi_rr.errors import WasiRrError

__all__ = ["BREAK_AT_ENV", "DebuggerMissing", "launch", "trap_here"]

BREAK_AT_ENV = "WASI_RR_BREAK_AT"
PACKAGES = {"gdb": "gdb", "lldb": "lldb"}


class DebuggerMissing(WasiRrError):
    """gdb/lldb is not installed."""


def trap_here() -> None:
    """Stop the native debugger on this thread (SIGTRAP: gdb and lldb stop on it)."""
    signal.pthread_kill(threading.get_ident(), signal.SIGTRAP)


def command(tool: str, journal: str, module: str | None, break_at: int | None,
            script: str | None) -> list[str]:
    """The debugger's command line running ``wasi-rr replay --debug-engine``."""
    inner = [sys.executable, "-m", "wasi_rr", "replay", "--debug-engine"]
    if module is not None:
        inner += ["--module", module]
    if break_at is not None:
        inner += ["--break-at", str(break_at)]
    inner.append(journal)
    if tool == "gdb":
        # Python's own threads and signals are noise here; the JIT interface
        # wasmtime uses makes guest breakpoints pending until the code is loaded.
        # wasmtime implements wasm traps with SIGILL/SIGSEGV and handles them itself
        pre = ["-q", "-ex", "set breakpoint pending on", "-ex", "set pagination off",
               "-ex", "handle SIGILL nostop noprint pass",
               "-ex", "handle SIGSEGV nostop noprint pass",
               "-ex", "handle SIGPIPE nostop noprint", "-ex", "set print thread-events off"]
        if script is not None:
            pre += ["-batch", "-x", script]
        return ["gdb", *pre, "--args", *inner]
    pre = ["-o", "settings set plugin.jit-loader.gdb.enable on",
           "-o", "process handle SIGILL -s false -p true -n false",
           "-o", "process handle SIGSEGV -s false -p true -n false"]
    if script is not None:
        pre += ["--batch", "-s", script]
    return ["lldb", *pre, "--", *inner]


def launch(tool: str, journal: str, *, module: str | None = None,
           break_at: int | None = None, argv: Sequence[str] = ()) -> int:
    """Replace this process with the debugger (commands from stdin when it is not a
    terminal: read into a script, as gdb would read them)."""
    if shutil.which(tool) is None:
        raise DebuggerMissing(f"{tool} is not installed (Debian package: {PACKAGES[tool]}; "
                              f"apt-get install {PACKAGES[tool]})")
    script = None
    if not sys.stdin.isatty():
        data = sys.stdin.read()
        fd, script = tempfile.mkstemp(prefix="wasi-rr-debugger-", suffix=".cmds")
        with os.fdopen(fd, "w") as f:
            f.write(data)
    cmd = command(tool, os.path.abspath(journal), module, break_at, script)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(cmd[0], cmd)
    return 0  # pragma: no cover - exec does not return
