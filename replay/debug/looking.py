"""The looking commands: what the guest is doing and what it sees at the position.

``info`` (the call about to execute, with the result the journal says it gets),
``x``/``p`` (guest memory), ``bt`` (the guest's wasm stack), ``args``/``env``,
``output`` (what reached stdout/stderr before this call) come from the journal
and the stopped guest; ``fds``/``ls``/``cat``/``stat`` from the kernel rebuilt
at this position (``kernelstate``). Calls print through the signature table's
formatter, as ``dump`` and divergence reports do.
"""

from __future__ import annotations

import hashlib
import struct

from wasi_rr.host.kernel.inode import Kind
from wasi_rr.host.kernel.wasi_types import WasiError
from wasi_rr.host.table.format import format_call
from wasi_rr.journal import Call

from .dwarf import LineTable
from .reply import DebugError, Reply
from .session import Session
from .stack import stack_of

__all__ = [
    "args",
    "backtrace",
    "cat",
    "describe_position",
    "env",
    "examine",
    "fds",
    "format_at",
    "info",
    "ls",
    "memory_info",
    "output",
    "print_value",
    "stat",
]


def format_at(session: Session, n: int) -> str:
    call: Call = session.index.calls[n]
    who = f"[pid {call.pid}] " if session.index.multi else ""
    text = format_call(call.module, call.name, call.params, [d for _, d in call.inputs],
                       call.errno, call.writes)
    return f"{who}#{call.seq} {text}"


def describe_position(session: Session) -> Reply:
    """The position: the call about to run, or how the run ended."""
    n = session.position
    if n < len(session.index):
        call = session.index.calls[n]
        return Reply(format_at(session, n), {"call": call.name, "errno": call.errno,
                                             "text": format_at(session, n)})
    return _end_reply(session)


def _end_reply(session: Session) -> Reply:
    end = session.ended
    index = session.index
    if end is not None and end.divergence is not None:
        text = "the replay diverged here:\n" + end.divergence.report()
        return Reply(text, {"divergence": end.divergence.summary})
    if index.damage is not None:
        text = (f"the journal is damaged after syscall #{len(index)}: {index.damage}; "
                "every position before it can be inspected")
        return Reply(text, {"damage": index.damage})
    if end is not None and end.journal_error is not None:
        return Reply(f"the replay stopped: {end.journal_error}", {"damage": end.journal_error})
    ending = index.ending_of(index.first_pid())
    what = ending.text() if ending is not None else "ended"
    return Reply(f"the program {what} (after {len(index)} syscalls)",
                 {"ended": True, "status": ending.status if ending else None,
                  "trap": ending.trap if ending else None})


def info(session: Session, words: list[str]) -> Reply:
    if words and words[0] == "memory":
        return memory_info(session)
    return describe_position(session)


def _memory(session: Session) -> memoryview:
    mem = session.memory_adapter().memory
    mem.refresh()
    return mem.view


def _number(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise DebugError(f"{what} {text!r} is not a number") from None


def _range(view: memoryview, addr: int, length: int) -> bytes:
    if addr < 0 or length < 0 or addr + length > len(view):
        raise DebugError(f"{addr:#x}+{length} is outside guest memory ({len(view)} bytes)")
    return bytes(view[addr:addr + length])


def examine(session: Session, words: list[str]) -> Reply:
    """``x ADDR [LEN]``: hex and text."""
    if not words:
        raise DebugError("x: give an address (x ADDR [LEN])")
    addr = _number(words[0], "address")
    length = _number(words[1], "length") if len(words) > 1 else 64
    if length > 1 << 16:
        raise DebugError("x: at most 65536 bytes at a time")
    data = _range(_memory(session), addr, length)
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{addr + off:#010x}: {chunk.hex(' '):<47}  {text}")
    return Reply("\n".join(lines), {"address": addr, "hex": data.hex(),
                                    "text": data.decode("latin-1")})


def print_value(session: Session, words: list[str]) -> Reply:
    """``p str|i32|i64 ADDR``."""
    if len(words) != 2 or words[0] not in ("str", "i32", "i64"):
        raise DebugError("p: p str|i32|i64 ADDR")
    kind, addr = words[0], _number(words[1], "address")
    view = _memory(session)
    if kind == "str":
        end = addr
        while end < len(view) and end - addr < 4096 and view[end] != 0:
            end += 1
        raw = _range(view, addr, end - addr)
        text = raw.decode("utf-8", "replace")
        return Reply(repr(text), {"value": text})
    size, fmt = (4, "<i") if kind == "i32" else (8, "<q")
    value = struct.unpack(fmt, _range(view, addr, size))[0]
    return Reply(str(value), {"value": value})


def memory_info(session: Session) -> Reply:
    view = _memory(session)
    digest = hashlib.sha256(view).hexdigest()
    return Reply(f"linear memory: {len(view)} bytes, sha256 {digest}",
                 {"size": len(view), "sha256": digest})


def backtrace(session: Session, words: list[str]) -> Reply:
    """The guest's wasm stack, read from a trap raised inside the stopped call."""
    stop = session.stop
    if stop is None:
        raise DebugError("bt: the program is not stopped at a syscall (it has ended)")
    table = _line_table(session)
    frames = stack_of(stop.store, table)
    lines = [f.text(k) for k, f in enumerate(frames)]
    if not table.present:
        session.tell_once("nodwarf", "the module has no DWARF: bt shows function names only "
                          "(build the guest with -g for file:line)")
    return Reply("\n".join(lines) or "(no guest frames)",
                 {"frames": [f.as_dict() for f in frames]})


def _line_table(session: Session) -> LineTable:
    table = session.__dict__.get("_lines")
    if table is None:
        table = session.__dict__["_lines"] = LineTable.of(session.wasm)
    return table  # type: ignore[no-any-return]


def args(session: Session, words: list[str]) -> Reply:
    argv = list(session.index.header.argv)
    return Reply("\n".join(f"argv[{i}] = {a!r}" for i, a in enumerate(argv)), {"argv": argv})


def env(session: Session, words: list[str]) -> Reply:
    pairs = [f"{k}={v}" for k, v in session.index.header.env]
    return Reply("\n".join(pairs) or "(empty environment)", {"env": pairs})


def output(session: Session, words: list[str]) -> Reply:
    out, err = session.index.output(session.position)
    text = out.decode("utf-8", "replace")
    if err:
        text += ("" if not text or text.endswith("\n") else "\n") + "--- stderr ---\n" + \
            err.decode("utf-8", "replace")
    return Reply(text.rstrip("\n"), {"stdout": out.decode("utf-8", "replace"),
                                     "stderr": err.decode("utf-8", "replace")})


# -- the filesystem at this position ---------------------------------------------------------
def _kernel(session: Session):  # type: ignore[no-untyped-def]
    from ..verify import VerifyError

    try:
        kernel = session.shadow().at(session.position)
    except VerifyError as exc:
        raise DebugError(
            str(exc).replace("cannot verify", "cannot rebuild the filesystem")
        ) from exc
    shadow = session.shadow()
    if shadow.unknown:
        session.tell_once("digest", f"{len(set(shadow.unknown))} call(s) wrote data the journal "
                          "stored only as a digest; those bytes show as zeros")
    return kernel


def _path_of(fs, inode) -> str:  # type: ignore[no-untyped-def]
    """The guest path of an open file's inode: host mounts know their nodes by
    path; in-memory trees are searched from each mount root (bounded)."""
    for mount in fs.mounts:
        if inode is mount.root:
            return str(mount.guest)
        for rel, node in mount.nodes.items():
            if node is inode:
                return mount.guest.rstrip("/") + "/" + "/".join(rel)
    budget = 10000
    for mount in fs.mounts:
        if mount.host is not None:
            continue
        todo = [(mount.root, mount.guest.rstrip("/"))]
        while todo and budget > 0:
            node, path = todo.pop()
            try:
                listing = fs.tree.listing(node)
            except WasiError:
                continue
            for name, child in listing:
                budget -= 1
                if child is inode:
                    return f"{path}/{name}"
                if child.kind is Kind.DIRECTORY:
                    todo.append((child, f"{path}/{name}"))
    return ""


def _stdio_name(stdio: int | None, fd: int) -> str:
    if stdio == 1:
        return "<stdout>"
    if stdio == 2:
        return "<stderr>"
    return "<stdin>" if fd == 0 else ""


def fds(session: Session, words: list[str]) -> Reply:
    kernel = _kernel(session)
    fs = kernel.fs
    rows, lines = [], []
    for fd, desc in sorted(fs.fds.fds.items()):
        inode = desc.inode
        kind = type(desc).__name__
        path = desc.preopen or _path_of(fs, inode) or _stdio_name(inode.stdio, fd)
        rows.append({"fd": fd, "kind": kind, "path": path, "offset": desc.offset,
                     "flags": int(desc.flags)})
        lines.append(f"{fd:>4}  {kind:<16} offset {desc.offset:<8} {path}")
    return Reply("\n".join(lines), {"fds": rows})


def _resolve(session: Session, words: list[str], what: str):  # type: ignore[no-untyped-def]
    if len(words) != 1:
        raise DebugError(f"{what}: give one guest path")
    kernel = _kernel(session)
    try:
        res = kernel.fs.resolve_guest(words[0])
    except WasiError as exc:
        raise DebugError(f"{what} {words[0]}: {exc.errno.name}") from None
    if res.node is None:
        raise DebugError(f"{what} {words[0]}: no such file or directory here")
    return kernel, res.node


def ls(session: Session, words: list[str]) -> Reply:
    kernel, node = _resolve(session, words or ["/"], "ls")
    if node.kind is not Kind.DIRECTORY:
        raise DebugError(f"ls {words[0]}: not a directory")
    try:
        listing = kernel.fs.tree.listing(node)
    except WasiError as exc:
        raise DebugError(f"ls: {exc.errno.name}") from None
    names = sorted(name for name, _ in listing)
    kinds = {name: child.kind.name.lower() for name, child in listing}
    lines = [f"{kinds[n]:<14} {n}" for n in names]
    return Reply("\n".join(lines), {"entries": names})


def cat(session: Session, words: list[str]) -> Reply:
    kernel, _ = _resolve(session, words, "cat")
    try:
        data = kernel.fs.read_file(words[0])
    except WasiError as exc:
        raise DebugError(f"cat {words[0]}: {exc.errno.name}") from None
    return Reply(data.decode("utf-8", "replace"), {"text": data.decode("utf-8", "replace"),
                                                   "size": len(data)})


def stat(session: Session, words: list[str]) -> Reply:
    kernel, node = _resolve(session, words, "stat")
    try:
        st = kernel.fs.tree.stat(node)
    except WasiError as exc:
        raise DebugError(f"stat {words[0]}: {exc.errno.name}") from None
    fields = {"filetype": st.filetype.name.lower(), "ino": st.ino, "nlink": st.nlink,
              "size": st.size, "mtim": st.mtim}
    return Reply(" ".join(f"{k}={v}" for k, v in fields.items()), fields)
