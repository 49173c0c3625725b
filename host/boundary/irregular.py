"""Hand-written handlers for the calls no generated callback can serve.

Each is irregular for a reason stated in its table row (``Signature.irregular``):

- ``proc_exit`` ends the process: the callback must trap instead of returning
  (after the call is recorded);
- the WASIX process calls (``proc_fork``, ``proc_join``, ``proc_id``,
  ``proc_parent``) are answered by the process group (fork is an asyncify
  snapshot), through methods a ``host.runtime.procs.ProcKernel`` adds to the
  kernel; ``proc_join`` also reads *and* rewrites its ``option_pid`` argument.

They are rare, so they go through one generic Python wrapper (interceptor,
counter, record, errno) instead of generated code.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from wasi_rr.host.kernel.wasi_types import Errno, ProcExit, WasiError
from wasi_rr.host.table import Signature
from wasi_rr.host.table.structs import JOIN_STATUS, OPTION_PID

from . import fastcall

if TYPE_CHECKING:
    from .adapter import HostAdapter

Items = list[tuple[int, bytes]]
Handler = Callable[[Any, Any, tuple[int, ...], Items, Items], int]
"""``(kernel, memory, params, inputs, writes) -> errno``: may raise ``WasiError``/``ProcExit``."""

_U32: Final = struct.Struct("<I")
_ERRNO: Final = struct.Struct("<i")
JOIN_STATUS_NOTHING: Final = 0
JOIN_STATUS_EXIT_NORMAL: Final = 1


def _write(mem: Any, addr: int, data: bytes, outs: Items) -> None:
    mem.write(addr, data)
    outs.append((addr, data))


def _method(kernel: Any, name: str) -> Callable[..., Any]:
    method = getattr(kernel, name, None)
    if method is None:
        raise WasiError(Errno.NOSYS, f"{name} needs a process group")
    return method  # type: ignore[no-any-return]


def _proc_exit(kernel: Any, mem: Any, p: tuple[int, ...], ins: Items, outs: Items) -> int:
    if kernel is not None:
        kernel.proc_exit(p[0])
    raise ProcExit(p[0])  # a kernel that returns still must not resume the guest


def _proc_fork(kernel: Any, mem: Any, p: tuple[int, ...], ins: Items, outs: Items) -> int:
    mem.check(p[1], 4)
    _write(mem, p[1], _U32.pack(_method(kernel, "proc_fork")(bool(p[0]))), outs)
    return 0


def _proc_id(kernel: Any, mem: Any, p: tuple[int, ...], ins: Items, outs: Items) -> int:
    mem.check(p[0], 4)
    _write(mem, p[0], _U32.pack(_method(kernel, "proc_id")()), outs)
    return 0


def _proc_parent(kernel: Any, mem: Any, p: tuple[int, ...], ins: Items, outs: Items) -> int:
    mem.check(p[1], 4)
    _write(mem, p[1], _U32.pack(_method(kernel, "proc_parent")(p[0])), outs)
    return 0


def _proc_join(kernel: Any, mem: Any, p: tuple[int, ...], ins: Items, outs: Items) -> int:
    raw = mem.read(p[0], OPTION_PID.size)
    ins.append((p[0], raw))
    tag, pid = OPTION_PID.unpack(raw)
    if tag not in (0, 1):
        raise WasiError(Errno.INVAL, f"invalid OptionPid tag {tag}")
    mem.check(p[2], JOIN_STATUS.size)
    joined = _method(kernel, "proc_join")(pid if tag else None, p[1])
    if joined is None:
        _write(mem, p[2], JOIN_STATUS.pack(JOIN_STATUS_NOTHING, 0), outs)
        return 0
    child, status = joined
    _write(mem, p[0], OPTION_PID.pack(1, child), outs)
    _write(mem, p[2], JOIN_STATUS.pack(JOIN_STATUS_EXIT_NORMAL, status & 0xFFFF_FFFF), outs)
    return 0


HANDLERS: Final[dict[str, Handler]] = {
    "proc_exit": _proc_exit,
    "proc_fork": _proc_fork,
    "proc_join": _proc_join,
    "proc_id": _proc_id,
    "proc_parent": _proc_parent,
}


def run_irregular(sig: Signature, kernel: Any, mem: Any,
                  params: tuple[int, ...]) -> tuple[Items, int, Items, ProcExit | None]:
    """Run one irregular call: ``(inputs, errno, writes, exit)`` (``exit`` set when
    the process ends; the caller records the call first, then raises it)."""
    ins: Items = []
    outs: Items = []
    try:
        return ins, HANDLERS[sig.name](kernel, mem, params, ins, outs), outs, None
    except WasiError as e:
        return ins, int(e.errno), [], None
    except ProcExit as e:
        return ins, 0, outs, e


def irregular_callback(sig: Signature, adapter: HostAdapter) -> fastcall.RawCallback:
    """The raw callback of an irregular call for ``adapter``."""
    if sig.name not in HANDLERS:
        raise ValueError(f"no handler for irregular {sig.name}")
    slots_type = fastcall.raw_slots(len(sig.params))
    unpack = sig.raw_struct.unpack_from
    intercept = adapter.interceptor.before_call if adapter.interceptor is not None else None
    counting = intercept is not None
    fid = adapter.recorder.function_id(sig) if adapter.recorder is not None else -1
    has_result = sig.result is not None

    def callback(env: Any, caller: Any, args: int, count: int) -> int:
        try:
            slots = fastcall.slots_at(slots_type, args)
            p = unpack(slots)
            if intercept is not None:
                early = intercept(sig, p)
                if early is not None:
                    if has_result:
                        _ERRNO.pack_into(slots, 0, early)
                    return 0
            if counting:
                adapter.counter.n += 1
            ins, errno, outs, exiting = run_irregular(sig, adapter.kernel, adapter.memory, p)
            if adapter.recorder is not None:
                adapter.emit(fid, 0, p, errno, ins, outs)
            if exiting is not None:
                raise exiting
            if has_result:
                _ERRNO.pack_into(slots, 0, errno)
            return 0
        except BaseException as e:  # must never leave a ctypes callback
            return adapter.stop_guest(sig, e)
    return callback
