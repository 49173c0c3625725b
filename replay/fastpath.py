"""The verbatim replay's fast paths, through the adapter's interceptor seam.

The adapter's observed path builds, for every call, a logged decode of all
arguments, a ``PendingCall`` and a record: most of that is wasted when the
guest simply asks the recorded question again (the overwhelming case). Two
levels skip it:

* ``FastReplay.call_for`` runs *before* decoding, from the adapter's observed
  callback: it reads the call's input regions itself (the same regions, in the
  same order, as docs/architecture.md defines ``SyscallRecord.inputs``), and
  when function, params and every input byte equal the next journal entry it
  applies the recorded writes and returns the recorded errno at once.
* ``FastReplay.callback_for`` replaces the adapter's callback of the hot call
  shapes by a *lean* one that answers a compact repeat (``codec.SyscallBatch``,
  ``codec.RepeatRun``: a call equal to its function's last full entry but for
  the written bytes, i.e. a loop) straight from the decoded batch: params
  compared as unpacked, input bytes compared in place, data written, errno
  returned, and the cursor position, ``adapter.seq`` and the history kept
  lazily (see ``_lean_scope``). About 1 us per call end to end (0.6 of it the
  ctypes callback itself) instead of ~3. A lean callback also *arms* the replay
  shim (``replay/shim.py``) for the rest of a run, which then answers it in
  wasm without calling Python (~0.1 us per call).

Both only ever *accept*: anything unusual (a mismatch, a range outside memory,
a digest-stored input, ``proc_exit``, output to stdout/stderr for the lean one)
declines, and the call takes the next level, down to the adapter's normal path
into ``JournalBackend``, which is the authority that decides and reports
divergences precisely. So a fast path cannot hide a divergence; at worst it
declines.
"""

from __future__ import annotations

import ctypes
import enum
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wasi_rr.host.boundary import fastcall
from wasi_rr.host.table.abi import Role, Signature
from wasi_rr.host.boundary.adapter import HostAdapter
from wasi_rr.host.boundary.fastcall import RawCallback
from wasi_rr.host.boundary.handlers import Handler
from wasi_rr.host.boundary.memory import GuestMemory
from wasi_rr.host.kernel.wasi_types import WasiError
from wasi_rr.journal import SyscallEntry
from wasi_rr.journal.codec import FrameDecodeError, RepeatTemplate

from .backend import JournalBackend
from .output import TRACKED_CALLS
from .shim import ShimControl

__all__ = ["FastReplay"]

_IOVEC = struct.Struct("<II")
SHIM_MIN_LEFT = 8
"""A lean callback arms the shim (``replay/shim.py``) for the rest of a run when
at least this many repeats are left: arming costs a few calls' worth of Python
(once per run; re-arming after an interruption is cheaper)."""
_Reader = Callable[[GuestMemory, tuple[int, ...]], "tuple[bytes, ...] | None"]


def _plan(sig: Signature) -> _Reader:
    """A function reading the input regions of ``sig`` (None if one is out of range)."""
    names = sig.param_names
    steps: list[tuple[Role, int, int, int]] = []  # role, ptr index, len index, fixed size
    for i, p in enumerate(sig.params):
        n = names.index(p.length) if p.length in names else -1
        if p.role in (Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS, Role.IN_SUBS):
            steps.append((p.role, i, n, 0))
        elif p.role is Role.INOUT and p.out is not None:
            steps.append((p.role, i, -1, p.out.size))
    read = GuestMemory.read  # the unlogged read: this path keeps no per-call log
    iter_unpack = _IOVEC.iter_unpack

    if not steps:
        return lambda mem, params: ()
    if len(steps) == 1 and steps[0][0] is Role.IN_IOVS:  # fd_write & co, the hot case
        _, i0, n0, _ = steps[0]

        def gather(mem: GuestMemory, params: tuple[int, ...]) -> tuple[bytes, ...] | None:
            try:
                array = read(mem, params[i0], 8 * params[n0])
                return (array, *[read(mem, b, n) for b, n in iter_unpack(array)])
            except WasiError:
                return None
        return gather
    if len(steps) == 1 and steps[0][0] is Role.OUT_IOVS:  # fd_read & co
        _, i0, n0, _ = steps[0]

        def array_only(mem: GuestMemory, params: tuple[int, ...]) -> tuple[bytes, ...] | None:
            try:
                return (read(mem, params[i0], 8 * params[n0]),)
            except WasiError:
                return None
        return array_only

    def reader(mem: GuestMemory, params: tuple[int, ...]) -> tuple[bytes, ...] | None:
        out: list[bytes] = []
        try:
            for role, i, n, size in steps:
                ptr = params[i]
                if role is Role.IN_STR:
                    out.append(read(mem, ptr, params[n]))
                elif role is Role.IN_IOVS:
                    array = read(mem, ptr, 8 * params[n])
                    out.append(array)
                    for base, length in _IOVEC.iter_unpack(array):
                        out.append(read(mem, base, length))
                elif role is Role.OUT_IOVS:
                    out.append(read(mem, ptr, 8 * params[n]))
                elif role is Role.IN_SUBS:
                    out.append(read(mem, ptr, 48 * params[n]))
                else:
                    out.append(read(mem, ptr, size))
        except WasiError:
            return None
        return tuple(out)

    return reader


_Compare = Callable[[memoryview, tuple[int, ...], tuple[Any, ...]], bool]


def _no_inputs(view: memoryview, params: tuple[int, ...], inputs: tuple[Any, ...]) -> bool:
    """The comparer of calls that read no memory (``call`` inlines it)."""
    return not inputs


_NO_INPUTS: _Compare = _no_inputs


def _comparer(sig: Signature) -> _Compare | None:
    """For the hot shapes, a function telling whether the guest's input regions
    equal the recorded inputs, comparing memory in place (no copies, no tuple);
    None for other shapes (``_plan`` reads the regions instead).

    A region outside the (cached) view compares short, hence unequal, and the
    call declines to the normal path, which refreshes the view or reports it.
    A digest-stored input never equals a memory slice: declined too.
    """
    names = sig.param_names
    steps = []
    for i, p in enumerate(sig.params):
        n = names.index(p.length) if p.length in names else -1
        if p.role in (Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS, Role.IN_SUBS):
            steps.append((p.role, i, n))
        elif p.role is Role.INOUT and p.out is not None:
            return None
    if not steps:
        return _NO_INPUTS
    if len(steps) != 1:
        return None
    role, i0, n0 = steps[0]
    iter_unpack = _IOVEC.iter_unpack
    if role is Role.IN_IOVS:
        unpack_one = _IOVEC.unpack
        memo: list[Any] = [None, 0, 0]
        """The last recorded one-iovec array and its (base, length): a repeat
        entry shares its inputs object with the one before, so a loop parses
        the recorded array once (every guest byte is still compared)."""

        def gathered(view: memoryview, params: tuple[int, ...],
                     inputs: tuple[Any, ...]) -> bool:
            count = params[n0]
            if len(inputs) != count + 1:
                return False
            ptr = params[i0]
            array = inputs[0]
            size = len(view)
            if ptr + 8 * count > size or view[ptr:ptr + 8 * count] != array:
                return False
            if count == 1:  # the hot case: one buffer
                if memo[0] is array:
                    base, length = memo[1], memo[2]
                else:
                    base, length = unpack_one(array)
                    memo[0], memo[1], memo[2] = array, base, length
                return base + length <= size and view[base:base + length] == inputs[1]
            k = 1
            for base, length in iter_unpack(array):
                if base + length > size or view[base:base + length] != inputs[k]:
                    return False
                k += 1
            return True
        return gathered
    if role is Role.OUT_IOVS:
        def array_only(view: memoryview, params: tuple[int, ...],
                       inputs: tuple[Any, ...]) -> bool:
            ptr = params[i0]
            end = ptr + 8 * params[n0]
            return len(inputs) == 1 and end <= len(view) and view[ptr:end] == inputs[0]
        return array_only
    if role is Role.IN_STR:
        def string(view: memoryview, params: tuple[int, ...],
                   inputs: tuple[Any, ...]) -> bool:
            ptr = params[i0]
            end = ptr + params[n0]
            return len(inputs) == 1 and end <= len(view) and view[ptr:end] == inputs[0]
        return string
    return None


class FastReplay:
    """``CallInterceptor`` answering calls that match their journal entry exactly.

    Two levels, both of which only ever *accept* (see the module docstring):

    * ``call_for(sig)``: the adapter asks once per import and calls the returned
      function with each call's params (from its observed callback); it compares
      the next item, whatever its shape, with the call. ``before_call`` is the
      same for callers that only know the generic seam.
    * ``callback_for(sig, handler, default)``: the raw callback the adapter
      defines instead of ``default``. For the hot shapes (``_LeanShape``) it
      answers a *compact repeat* of the same call straight from the batch
      (``codec.SyscallBatch``), without the observed callback, a tuple, a
      history entry or a counter update per call; everything else goes to
      ``default`` (and so to ``call_for``, then ``JournalBackend``).
    """

    def __init__(self, backend: JournalBackend) -> None:
        self.backend = backend
        self._cursor = backend.cursor
        self._calls: dict[int, Callable[[tuple[int, ...]], int | None]] = {}
        """By ``id`` of the (module-level, immortal) ``Signature`` objects."""
        self._tracker = backend.tracker
        self._adapter: HostAdapter
        self._mem: GuestMemory
        self._lean: _Lean | None = None
        self.lean_callbacks: dict[tuple[str, str], RawCallback] = {}
        """The lean callbacks by ``(module, name)``: the shim's fallbacks."""

    def before_call(self, signature: Signature, params: tuple[int, ...]) -> int | None:
        call = self._calls.get(id(signature))
        if call is None:
            call = self._calls[id(signature)] = self.call_for(signature)
        return call(params)

    def call_for(self, sig: Signature) -> Callable[[tuple[int, ...]], int | None]:
        """The fast path of ``sig``: ``(params) -> errno``, or None to decline."""
        cursor = self._cursor
        tracker = self._tracker
        module, name = sig.module, sig.name
        if name == "proc_exit":
            return lambda params: None
        compare = _comparer(sig)
        plan = _plan(sig) if compare is None else None
        no_inputs = compare is _NO_INPUTS
        tracked = name in TRACKED_CALLS
        stdio_write = name in ("fd_write", "fd_pwrite")

        adapter = self._adapter
        mem = self._mem
        stdio_fds = tracker.stdio_fds

        def call(params: tuple[int, ...]) -> int | None:
            items = cursor._items
            i = cursor._i
            if i < len(items):
                raw = items[i]
                if raw[0] < 0:  # a compact repeat
                    try:
                        raw = cursor._batch.raw(i)
                    except FrameDecodeError:
                        return None  # the normal path reports the damage
            else:
                peeked = cursor.guarded_peek_raw()  # a damaged journal stops the run here
                if peeked is None:
                    return None
                raw = peeked
                i = cursor._i
            # raw: seq, module, name, params, inputs, errno, writes, pid
            if raw[3] != params or raw[2] != name or raw[1] != module:
                return None
            view = mem.view
            recorded = raw[4]
            if no_inputs:
                if recorded:
                    return None
                inputs = recorded
            elif compare is not None:
                if not compare(view, params, recorded):
                    return None
                inputs = recorded
            else:
                assert plan is not None
                got = plan(mem, params)
                if got != recorded:
                    return None
                inputs = got
            writes = raw[6]
            if len(writes) == 1:  # the common case (clock, fd_write, fd_seek...)
                addr, data = writes[0]
                end = addr + len(data)
                if end > mem.size:
                    mem.refresh()  # the guest may have grown its memory
                    view = mem.view
                    if end > mem.size:
                        return None  # the normal path reports it as a divergence
                view[addr:end] = data
            elif writes:
                size = mem.size
                for addr, data in writes:
                    if addr + len(data) > size:
                        mem.refresh()  # the guest may have grown its memory
                        size = mem.size
                        view = mem.view
                        if addr + len(data) > size:
                            return None  # the normal path reports it as a divergence
                for addr, data in writes:
                    view[addr:addr + len(data)] = data
            cursor._i = i + 1
            adapter.seq += 1
            # (a successful write to another fd than stdout/stderr is a no-op for it)
            if tracked and not (stdio_write and (raw[5] or params[0] not in stdio_fds)):
                tracker.observe(SyscallEntry(*raw), inputs)
            return raw[5]  # type: ignore[no-any-return]
        return call

    def callback_for(self, sig: Signature, handler: Handler,
                     default: RawCallback) -> RawCallback | None:
        """The raw callback to define for ``sig`` (the adapter's hook): a lean one
        for the hot shapes, else ``default`` wrapped so the lean callbacks'
        lazily kept position is handed to the cursor first."""
        if self._lean is None:
            self._lean = _lean_scope(self)
        cb = self._lean.callback(sig, default)
        if _lean_shape(sig) is not None:
            self.lean_callbacks[(sig.module, sig.name)] = cb
        return cb

    def install_shim(self, control: ShimControl) -> None:
        """Let the lean callbacks arm ``control``'s blocks (``replay/shim.py``;
        after linking, before the guest runs)."""
        if self._lean is not None:
            self._lean.install_shim(control)

    def sync(self) -> None:
        """Fold what the lean callbacks consumed into the cursor and ``adapter.seq``
        (the engine calls it once the guest has stopped)."""
        if self._lean is not None:
            self._lean.sync()

    def attach(self, adapter: HostAdapter) -> None:
        """Bind to the adapter serving the instance (after constructing it, before
        the module is linked: ``call_for`` and ``callback_for`` capture both)."""
        self._adapter = adapter
        self._mem = adapter.memory


class _LeanShape(enum.Enum):
    """Where a call's inputs are, for the shapes the lean callbacks answer."""

    NONE = "none"
    """No input (``clock_time_get``, ``fd_seek``, ``fd_tell``, ``random_get``...)."""
    IN_IOVS = "in_iovs"
    """One ciovec array and its buffers (``fd_write``, ``fd_pwrite``, ``sock_send``)."""
    OUT_IOVS = "out_iovs"
    """One iovec array (``fd_read``, ``fd_pread``, ``sock_recv``)."""
    IN_STR = "in_str"
    """One byte string (``path_filestat_get``, ``path_readlink``...)."""


def _lean_shape(sig: Signature) -> tuple[_LeanShape, int, int] | None:
    """``(shape, index of the pointer param, index of the length param)`` of a
    call the lean callbacks may answer, or None."""
    if sig.result is None or sig.name == "proc_exit":
        return None
    if sig.name in TRACKED_CALLS and sig.name not in ("fd_write", "fd_pwrite"):
        return None  # the stdio tracker must see them
    names = sig.param_names
    found: list[tuple[_LeanShape, int, int]] = []
    for i, p in enumerate(sig.params):
        if p.role in (Role.IN_IOVS, Role.OUT_IOVS, Role.IN_STR):
            if p.length not in names:
                return None
            found.append((_LeanShape(p.role.value), i, names.index(p.length)))
        elif p.role is Role.IN_SUBS or (p.role is Role.INOUT and p.out is not None):
            return None
    if not found:
        return (_LeanShape.NONE, -1, -1)
    return found[0] if len(found) == 1 else None


@dataclass(slots=True)
class _Lean:
    """The lean callbacks of one replay (see ``_lean_scope``)."""

    callback: Callable[[Signature, RawCallback], RawCallback]
    sync: Callable[[], None]
    install_shim: Callable[[ShimControl], None]


def _lean_scope(fast: FastReplay) -> _Lean:
    """Build the lean callbacks of one replay around state they share.

    The position in the current batch (``items``, ``i``) lives in this scope's
    cells, not on the cursor: every lean callback reads and advances it as a
    closure variable (a few ns instead of an attribute's ~20), and it is handed
    back lazily: ``sync`` stores ``i`` in the cursor and adds the calls answered
    since the last sync to ``adapter.seq`` before anything else runs (every
    decline, every non-lean import, the engine after the run), ``reload`` takes
    the cursor's position back afterwards. A lean callback never leaves its batch:
    at its end it declines, and the cursor moves on.

    The shim (``replay/shim.py``), once installed, answers in wasm the repeats
    of a run a lean callback *armed* (``arm``: the rest of the run, when at
    least ``SHIM_MIN_LEFT`` are left). Its position ``k`` is the scope's ``i``
    while armed: every entry into this scope (each lean callback, ``decline``,
    ``sync``, hence every wrapped callback and the engine's final sync) first
    *folds* (``i = k``, disarmed), so everything else sees the position as if
    Python had answered those calls itself.

    Per callback it caches what it derived from the last template it accepted
    (``codec.RepeatTemplate``, identified by its repeat tag within the current
    batch's template map): the params, the input ranges and their recorded
    bytes, the write addresses and the errno. A call is answered only if the
    next item is a repeat of that template, the guest's params equal the
    template's and every input byte equals the recorded one; its data are
    written at the template's addresses (a range outside the memory it knows,
    or data that are not bytes, make it decline). ``reload`` drops the caches
    when the batch's template map changes (a tag may then name another
    template), and those of ``fd_write``s found not to target stdout/stderr
    after every other path ran (which may have renumbered an fd onto them).
    """
    cursor = fast._cursor
    adapter = fast._adapter
    mem = fast._mem
    tracker = fast._tracker
    stdio_fds = tracker.stdio_fds
    stdio_version = tracker.version
    stop = adapter._stop_guest  # noqa: SLF001 - the adapter's own trap reporting
    iov = _IOVEC.unpack_from
    c_int32 = ctypes.c_int32

    items: Sequence[tuple[Any, ...]] = cursor._items
    i = i0 = cursor._i
    tmpls: dict[int, RepeatTemplate] = cursor._batch.templates
    # the current batch when it is a ``RepeatRun`` (``rv`` None otherwise): the
    # data of its repeat ``k`` are ``rv[k * rstep + ro0:][:rl0]`` (and ro1/rl1)
    rv: bytes | None = None
    rn = rstep = ro0 = rl0 = ro1 = rl1 = 0
    rkey: tuple[int] = (0,)  # (its tag,), what ``adopt`` reads of an item
    rhead = 0
    rsame = False  # every repeat of the run has the data rc0 (and rc1)
    rc0 = rc1 = b""
    view = mem.view
    forget: list[Callable[[], None]] = []
    """Per lean callback: drop its cached template."""
    forget_stdio: list[Callable[[], None]] = []
    """Per lean ``fd_write``/``fd_pwrite``: drop its cached template (which relied
    on its fd not being stdout/stderr) once the stdio fds changed."""
    ctl: ShimControl | None = None
    armed = -1
    """The control block the shim answers from (-1: none armed)."""
    enable: list[Callable[[ShimControl], None]] = []
    """Per lean callback: look up its control block."""

    def fold() -> None:
        """Take the shim's position back (see above)."""
        nonlocal i, armed
        assert ctl is not None
        i = ctl.fold(armed)
        armed = -1

    def install_shim(control: ShimControl) -> None:
        nonlocal ctl
        ctl = control
        for f in enable:
            f(control)

    def sync() -> None:
        nonlocal i0
        if armed >= 0:
            fold()
        if i != i0:
            cursor._i = i
            adapter.seq += i - i0
            i0 = i

    def reload() -> None:
        nonlocal items, i, i0, tmpls, rv, rn, rstep, ro0, rl0, ro1, rl1, rkey, rhead
        nonlocal rsame, rc0, rc1, view, stdio_version
        batch = cursor._batch
        items = cursor._items
        i = i0 = cursor._i
        view = mem.view  # the other paths refresh it when the guest grows its memory
        if tracker.version != stdio_version:
            stdio_version = tracker.version
            for f in forget_stdio:
                f()
        if batch.templates is not tmpls:
            tmpls = batch.templates
            run = batch.run
            if run is None:
                rv = None
            else:
                rv = run.data
                rn, rstep, rhead = run.count, run.step, run.head
                rkey = (rhead,)
                (ro0, rl0), *more = run.offsets
                ro1, rl1 = more[0] if more else (0, 0)
                rsame = run.same is not None
                if run.same is not None:
                    rc0, *rest = run.same
                    rc1 = rest[0] if rest else b""
            for f in forget:
                f()

    def wrap(default: RawCallback) -> RawCallback:
        def callback(env: Any, caller: Any, args: int, count: int) -> int:
            sync()
            try:
                return default(env, caller, args, count)
            finally:
                reload()
        return callback

    def template(head: Any, p: tuple[int, ...], module: str, name: str
                 ) -> RepeatTemplate | None:
        """The template of the repeat tagged ``head`` if it is a call of this
        function with these params whose inputs are all bytes, else None."""
        if type(head) is not int or head >= 0:
            return None
        t = tmpls.get(head)
        if t is None or t.name != name or t.module != module or t.params != p \
                or not 1 <= len(t.addrs) <= 2:
            return None
        for b in t.inputs:
            if type(b) is not bytes:
                return None
        return t

    def room(needed: int) -> bool:
        """Whether the view covers ``needed`` bytes (refreshed if the guest may
        have grown its memory)."""
        nonlocal view
        if needed <= len(view):
            return True
        mem.refresh()
        view = mem.view
        return needed <= len(view)

    def lean(sig: Signature, default: RawCallback) -> RawCallback:
        shape = _lean_shape(sig)
        if shape is None:
            return wrap(default)
        kind, pi, li = shape
        module, name = sig.module, sig.name
        slots_type = fastcall.raw_slots(len(sig.params))
        unpack_from = sig.raw_struct.unpack_from
        stdio_write = name in ("fd_write", "fd_pwrite")
        last_args = 0
        scratch = bytearray(ctypes.sizeof(slots_type))
        slots = memoryview(scratch)  # the args array (a memoryview unpacks ~10% faster)
        result = c_int32.from_buffer(scratch)
        """The errno slot (the first 4 bytes of the args array)."""
        # what the last accepted template fixed (see _lean_scope)
        my_head: int | None = None
        my_params: tuple[int, ...] = ()
        errno = 0
        two = False
        a0 = a1 = 0
        e0 = e1 = 0             # where the last data written at a0/a1 ended
        re0 = re1 = 0           # in a run: where its data written at a0/a1 end
        ptr = end = 0           # the input array (or string) range
        rec: bytes = b""        # its recorded bytes
        one_iov: tuple[int, int] | None = None  # a one-iovec array, parsed
        joint: Callable[[memoryview, int], tuple[Any, ...]] | None = None
        """IN_IOVS with one buffer: a ``Struct.unpack_from`` reading the array and
        the buffer at once (at ``joint_at``; it must return ``joint_rec``)."""
        joint_at = 0
        joint_rec: tuple[Any, ...] = ()
        bufs: list[tuple[int, int, bytes]] = []  # IN_IOVS: buffer ranges and bytes
        block = -1  # its control block in the shim, if any

        def enable_shim(control: ShimControl) -> None:
            nonlocal block
            block = control.blocks.get((module, name), -1)

        enable.append(enable_shim)

        def arm() -> None:
            """Hand repeats ``i..rn-1`` of the run to the shim (the call just
            answered checked every range it arms against guest memory)."""
            nonlocal armed
            assert ctl is not None and rv is not None and my_head is not None
            regions: tuple[tuple[int, int, bytes], ...] = ()
            if kind is _LeanShape.IN_IOVS:
                if len(bufs) != 1:
                    return  # more regions than a control block holds
                b, e, d = bufs[0]
                regions = ((ptr, end - ptr, rec), (b, e - b, d))
            elif kind is not _LeanShape.NONE:
                regions = ((ptr, end - ptr, rec),)
            writes = [(a0, rl0, ro0, rstep)]
            if two:
                writes.append((a1, rl1, ro1, rstep))
            try:
                ctl.arm(block, my_head, i, rn, errno, my_params, regions, rv, writes)
            except Exception:  # noqa: BLE001 - e.g. no room: Python keeps answering
                return
            armed = block

        def drop() -> None:
            nonlocal my_head
            my_head = None

        forget.append(drop)
        if stdio_write:
            forget_stdio.append(drop)
        call = fast.call_for(sig)
        """The next level, ``FastReplay.call_for``'s function (it takes what this
        callback declines, without the adapter's callback around it)."""

        def adopt(item: tuple[Any, ...], p: tuple[int, ...]) -> bool:
            """Take the item's template as the cached one if this callback may
            answer it (the per-call checks then only compare bytes). Computed
            aside and stored at once: a template refused half-way must not
            leave a mix of two templates' facts in the cache."""
            nonlocal my_head, my_params, errno, two, a0, a1, e0, e1, re0, re1
            nonlocal ptr, end, rec, one_iov, joint, joint_at, joint_rec, bufs
            t = template(item[0], p, module, name)
            if t is None:
                return False
            if stdio_write and t.errno == 0 and p[0] in stdio_fds:
                return False  # the stdio tracker must see it (FastReplay.call)
            inputs = t.inputs
            t_ptr = t_end = 0
            t_rec = b""
            t_one: tuple[int, int] | None = None
            t_joint: Callable[[memoryview, int], tuple[Any, ...]] | None = None
            t_joint_at = 0
            t_joint_rec: tuple[Any, ...] = ()
            t_bufs: list[tuple[int, int, bytes]] = []
            if kind is _LeanShape.NONE:
                if inputs:
                    return False
            else:
                t_ptr = p[pi]
                t_end = t_ptr + (p[li] if kind is _LeanShape.IN_STR else 8 * p[li])
                if not inputs or not room(t_end):
                    return False
                t_rec = inputs[0]
                if len(t_rec) != t_end - t_ptr:
                    return False
                if kind is not _LeanShape.IN_STR and len(t_rec) == 8:
                    t_one = iov(t_rec)
                if kind is _LeanShape.IN_IOVS:
                    spans = list(_IOVEC.iter_unpack(t_rec))
                    if len(inputs) != 1 + len(spans):
                        return False
                    for (base, length), data in zip(spans, inputs[1:]):
                        if len(data) != length or not room(base + length):
                            return False
                        t_bufs.append((base, base + length, data))
                    if t_one is not None:
                        # one unpack reads the iovec and its buffer, skipping
                        # (not comparing) the bytes between them
                        base, length = t_one
                        data = inputs[1]
                        if base >= t_end:
                            t_joint = struct.Struct(f"<II{base - t_end}x{length}s").unpack_from
                            t_joint_at, t_joint_rec = t_ptr, (base, length, data)
                        elif base + length <= t_ptr:
                            t_joint = struct.Struct(
                                f"<{length}s{t_ptr - base - length}xII").unpack_from
                            t_joint_at, t_joint_rec = base, (data, base, length)
                elif len(inputs) != 1:
                    return False
            ptr, end, rec, one_iov, bufs = t_ptr, t_end, t_rec, t_one, t_bufs
            joint, joint_at, joint_rec = t_joint, t_joint_at, t_joint_rec
            errno = t.errno
            two = len(t.addrs) == 2
            a0 = t.addrs[0]
            a1 = t.addrs[1] if two else 0
            e0, e1 = a0, a1
            re0, re1 = a0 + rl0, a1 + rl1  # (for a run: its data lengths are fixed)
            my_head, my_params = item[0], p
            return True

        def inputs_equal() -> bool:
            """``IN_IOVS``: the guest's iovec array and buffers equal the cached
            template's (the general case; the callbacks inline the joint one)."""
            if joint is not None:
                return bool(joint(view, joint_at) == joint_rec)
            if view[ptr:end] != rec:
                return False
            for b, e, data in bufs:
                if view[b:e] != data:
                    return False
            return True

        def decline(env: Any, caller: Any, args: int, count: int,
                    p: tuple[int, ...] | None) -> int:
            """Hand the call to the next level: ``call`` with the params already
            unpacked, then (if it declines too) the adapter's own callback.
            (``sync`` and the cheap part of ``reload`` inlined: a guest whose
            calls are not repeats comes here every call.)"""
            nonlocal items, i, i0, view
            if armed >= 0:
                fold()
            if i != i0:
                cursor._i = i
                adapter.seq += i - i0
            try:
                if p is not None:
                    try:
                        r = call(p)
                    except BaseException as e:  # noqa: BLE001 - as the adapter does
                        return stop(sig, e)
                    if r is not None:
                        result.value = r
                        return 0
                return default(env, caller, args, count)
            finally:
                items = cursor._items
                i = i0 = cursor._i
                view = mem.view
                if cursor._batch.templates is not tmpls or tracker.version != stdio_version:
                    reload()

        # One callback per shape, each in two halves: a repeat of a run (its
        # data sliced from the run's bytes, or the same data every time), or one
        # from a list of items (``item[1]``, ``item[2]``). The halves and shapes
        # are kept apart rather than factored: every call level or extra test
        # costs tens of ns on a path whose whole budget is ~0.5 us.
        if kind is _LeanShape.NONE:
            def no_input(env: Any, caller: Any, args: int, count: int) -> int:
                nonlocal last_args, slots, result, i, e0, e1
                if armed >= 0:
                    fold()
                p = None
                try:
                    if args != last_args:  # see HostAdapter._fast_callback
                        slots = memoryview(slots_type.from_address(args))
                        result = c_int32.from_address(args)
                        last_args = args
                    p = unpack_from(slots)
                    if rv is not None:
                        if i < rn and ((rhead == my_head and p == my_params)
                                       or adopt(rkey, p)):
                            if rsame:
                                view[a0:re0] = rc0
                                if two:
                                    view[a1:re1] = rc1
                            else:
                                q = i * rstep
                                view[a0:re0] = rv[q + ro0:q + ro0 + rl0]
                                if two:
                                    view[a1:re1] = rv[q + ro1:q + ro1 + rl1]
                            i += 1
                            if block >= 0 and rn - i >= SHIM_MIN_LEFT:
                                arm()
                            result.value = errno
                            return 0
                    else:
                        item = items[i]  # past the batch's end: IndexError, declined
                        if (item[0] == my_head and p == my_params) or (item[0] < 0 and adopt(item, p)):
                            d = item[1]
                            try:
                                view[a0:e0] = d
                            except ValueError:  # other length (or out of range)
                                e0 = a0 + len(d)
                                view[a0:e0] = d
                            if two:
                                d = item[2]
                                try:
                                    view[a1:e1] = d
                                except ValueError:
                                    e1 = a1 + len(d)
                                    view[a1:e1] = d
                            i += 1
                            result.value = errno
                            return 0
                except Exception:  # noqa: BLE001 - declined: the normal path decides
                    pass
                except BaseException as e:  # noqa: BLE001 - e.g. Ctrl-C: stop the guest
                    return stop(sig, e)
                return decline(env, caller, args, count, p)
            return no_input

        if kind is _LeanShape.IN_IOVS:
            def gathered(env: Any, caller: Any, args: int, count: int) -> int:
                nonlocal last_args, slots, result, i, e0, e1
                if armed >= 0:
                    fold()
                p = None
                try:
                    if args != last_args:
                        slots = memoryview(slots_type.from_address(args))
                        result = c_int32.from_address(args)
                        last_args = args
                    p = unpack_from(slots)
                    if rv is not None:
                        if i < rn and ((rhead == my_head and p == my_params)
                                       or adopt(rkey, p)) \
                                and (joint(view, joint_at) == joint_rec
                                     if joint is not None else inputs_equal()):
                            if rsame:
                                view[a0:re0] = rc0
                                if two:
                                    view[a1:re1] = rc1
                            else:
                                q = i * rstep
                                view[a0:re0] = rv[q + ro0:q + ro0 + rl0]
                                if two:
                                    view[a1:re1] = rv[q + ro1:q + ro1 + rl1]
                            i += 1
                            if block >= 0 and rn - i >= SHIM_MIN_LEFT:
                                arm()
                            result.value = errno
                            return 0
                    else:
                        item = items[i]  # past the batch's end: IndexError, declined
                        if ((item[0] == my_head and p == my_params) or (item[0] < 0 and adopt(item, p))) \
                                and (joint(view, joint_at) == joint_rec
                                     if joint is not None else inputs_equal()):
                            d = item[1]
                            try:
                                view[a0:e0] = d
                            except ValueError:  # other length (or out of range)
                                e0 = a0 + len(d)
                                view[a0:e0] = d
                            if two:
                                d = item[2]
                                try:
                                    view[a1:e1] = d
                                except ValueError:
                                    e1 = a1 + len(d)
                                    view[a1:e1] = d
                            i += 1
                            result.value = errno
                            return 0
                except Exception:  # noqa: BLE001 - declined: the normal path decides
                    pass
                except BaseException as e:  # noqa: BLE001 - e.g. Ctrl-C: stop the guest
                    return stop(sig, e)
                return decline(env, caller, args, count, p)
            return gathered

        # OUT_IOVS (the iovec array is the only input) and IN_STR
        def one_array(env: Any, caller: Any, args: int, count: int) -> int:
            nonlocal last_args, slots, result, i, e0, e1
            if armed >= 0:
                fold()
            p = None
            try:
                if args != last_args:
                    slots = memoryview(slots_type.from_address(args))
                    result = c_int32.from_address(args)
                    last_args = args
                p = unpack_from(slots)
                if rv is not None:
                    if i < rn and ((rhead == my_head and p == my_params) or adopt(rkey, p)) \
                            and (iov(view, ptr) == one_iov if one_iov is not None
                                 else view[ptr:end] == rec):
                        if rsame:
                            view[a0:re0] = rc0
                            if two:
                                view[a1:re1] = rc1
                        else:
                            q = i * rstep
                            view[a0:re0] = rv[q + ro0:q + ro0 + rl0]
                            if two:
                                view[a1:re1] = rv[q + ro1:q + ro1 + rl1]
                        i += 1
                        if block >= 0 and rn - i >= SHIM_MIN_LEFT:
                            arm()
                        result.value = errno
                        return 0
                else:
                    item = items[i]  # past the batch's end: IndexError, declined
                    if ((item[0] == my_head and p == my_params) or (item[0] < 0 and adopt(item, p))) \
                            and (iov(view, ptr) == one_iov if one_iov is not None
                                 else view[ptr:end] == rec):
                        d = item[1]
                        try:
                            view[a0:e0] = d
                        except ValueError:  # other length (or out of range)
                            e0 = a0 + len(d)
                            view[a0:e0] = d
                        if two:
                            d = item[2]
                            try:
                                view[a1:e1] = d
                            except ValueError:
                                e1 = a1 + len(d)
                                view[a1:e1] = d
                        i += 1
                        result.value = errno
                        return 0
            except Exception:  # noqa: BLE001 - declined: the normal path decides
                pass
            except BaseException as e:  # noqa: BLE001 - e.g. Ctrl-C: stop the guest
                return stop(sig, e)
            return decline(env, caller, args, count, p)
        return one_array

    return _Lean(lean, sync, install_shim)
