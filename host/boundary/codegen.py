"""Callbacks generated from the signature table (rr's ``generate_syscalls.py`` idea).

For each regular signature and each *shape* this module writes the Python
source of one function the way ``dataclasses`` writes ``__init__``: straight
line code, every role of every parameter turned into the few statements it
needs, no per-call dispatch on names or roles. The shapes:

- ``RUN``: a raw wasmtime callback that decodes the arguments from guest
  memory, calls the kernel method, encodes its answer, returns the errno.
- ``RECORD``: ``RUN`` that also appends the call's binary record (the
  journal's layout, ``journal.records``) to the writer's buffer: the inputs
  it read and the writes it made, nothing else per call.
- ``OBSERVE``: a plain function ``(params) -> (inputs, errno, writes)`` that
  decodes (and with a kernel, executes) one call, returning everything that
  crossed the boundary as values: replay's divergence reports, ``--verify``
  and the debugger use it; it is not on a hot path.

Order is fixed by the table: every parameter is decoded in order (inputs read,
enums and flags validated, out regions checked writable), so a call that
faults never reaches the kernel and consumes no input; then the kernel runs;
then the out params are encoded in order. ``OBSERVE`` and ``RECORD`` therefore
see the same ``inputs``/``writes`` as the journal stores them.

The source is compiled once per (signature, shape, options) and cached; each
adapter instantiates it with its own kernel, memory and writer (no state is
shared between instances). ``source()`` is public so tests and readers can see
exactly what runs.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wasi_rr.host.table import Fill, Param, Role, Signature, WasmType
from wasi_rr.host.table.structs import OutKind


class Shape(enum.Enum):
    RUN = "run"
    RECORD = "record"
    OBSERVE = "observe"


@dataclass(frozen=True, slots=True)
class Options:
    """What varies a generated function besides its signature and shape."""

    intercept: bool = False
    """Ask ``intercept(sig, params)`` first (the snapshot/process seam); an int
    answer returns at once without decoding, recording or counting."""
    count: bool = False
    """Count calls in ``counter.n`` (the adapter's sequence number)."""
    fast_emit: bool = False
    """RECORD of a simple signature: append records itself (the recorder offers
    its buffer: ``Recorder.fast_env``) instead of always calling ``emit``."""
    generic: bool = False
    """Generate the generic callback even for a simple signature (the fallback
    the simple one hands unusual shapes to)."""
    report_stdio: bool = False
    """RUN of a signature whose bytes may reach stdout/stderr: a successful call
    returns ``stdio_of(fd) << 16`` instead of 0 (the wasm recorder marks the
    record with it; the guest never sees this callback's result)."""


class _Src:
    """An indentation-aware source builder."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def block(self, head: str) -> _Indent:
        self(head)
        return _Indent(self)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class _Indent:
    def __init__(self, src: _Src) -> None:
        self.src = src

    def __enter__(self) -> None:
        self.src.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.src.depth -= 1


def _p(sig: Signature, name: str | None) -> str:
    """The local holding param ``name``."""
    assert name is not None
    return f"p{sig.index(name)}"


# -- decoding ---------------------------------------------------------------------------

def _decode(s: _Src, sig: Signature, collect: bool) -> list[str]:
    """Emit the decoding of every param in order; return the kernel's argument
    expressions. ``collect``: append every input to ``ins`` as ``(addr, bytes)``."""
    args: dict[str, str] = {}
    for i, p in enumerate(sig.params):
        v = f"p{i}"
        role = p.role
        if role in (Role.FD, Role.VALUE):
            args[p.name] = v
        elif role is Role.SIGNED:
            s(f"a{i} = {v} - 18446744073709551616 if {v} >= 9223372036854775808 else {v}")
            args[p.name] = f"a{i}"
        elif role is Role.FLAGS:
            s(f"if {v} & {_not_mask(p)}:")
            s(f"    raise WasiError(INVAL, 'invalid {_type_name(p)} bits')")
            args[p.name] = v
        elif role is Role.RIGHTS:
            s(f"a{i} = {v} & RIGHTS_MASK")
            args[p.name] = f"a{i}"
        elif role is Role.ENUM:
            s(f"if {v} not in VALID_{i}:")
            s(f"    raise WasiError(INVAL, 'invalid {_type_name(p)}')")
            args[p.name] = v
        elif role is Role.IN_STR:
            n = _p(sig, p.length)
            s(f"b{i} = mem_read({v}, {n})")
            if collect:
                s(f"ins.append(({v}, b{i}))")
            s(f"a{i} = path_text(b{i})")
            args[p.name] = f"a{i}"
        elif role is Role.IN_IOVS:
            _decode_in_iovs(s, i, v, _p(sig, p.length), collect)
            args[p.name] = f"a{i}"
        elif role is Role.OUT_IOVS:
            n = _p(sig, p.length)
            s(f"b{i} = mem_read({v}, 8 * {n})")
            if collect:
                s(f"ins.append(({v}, b{i}))")
            s(f"iov{i} = out_iovecs(mem, b{i})")
            s(f"a{i} = sum(length for _, length in iov{i})")
            args[p.name] = f"a{i}"
        elif role in (Role.OUT_BUF, Role.OUT_DIRENTS):
            n = _p(sig, p.length)
            s(f"if {v} + {n} > mem.size:")
            s(f"    mem.check({v}, {n})")
            if p.to_kernel:
                args[p.name] = n
        elif role is Role.OUT:
            assert p.out is not None
            s(f"if {v} + {p.out.size} > mem.size:")
            s(f"    mem.check({v}, {p.out.size})")
        elif role is Role.IN_SUBS:
            n = _p(sig, p.length)
            s(f"if {n} == 0:")
            s("    raise WasiError(INVAL, 'poll_oneoff with no subscriptions')")
            s(f"b{i} = mem_read({v}, SUBSCRIPTION_SIZE * {n})")
            if collect:
                s(f"ins.append(({v}, b{i}))")
            s(f"a{i} = subscriptions(b{i})")
            args[p.name] = f"a{i}"
        elif role is Role.OUT_EVENTS:
            n = _p(sig, p.length)
            s(f"mem.check({v}, EVENT_SIZE * {n})")
        elif role in (Role.OUT_PTR_ARRAY, Role.OUT_STR_BUF, Role.LEN):
            pass  # strings are checked when their size is known; lengths belong to pointers
        else:  # INOUT: only irregular calls have it
            raise ValueError(f"{sig.name}: role {role} needs a hand-written handler")
    return [args[p.name] for p in sig.kernel_args]


def _decode_in_iovs(s: _Src, i: int, v: str, n: str, collect: bool) -> None:
    s(f"b{i} = mem_read({v}, 8 * {n})")
    if collect:
        s(f"ins.append(({v}, b{i}))")
    with s.block(f"if {n} == 1:"):
        s(f"base, length = IOVEC_UNPACK(b{i})")
        s(f"a{i} = mem_read(base, length)")
        if collect:
            s(f"ins.append((base, a{i}))")
    with s.block("else:"):
        s(f"parts{i} = []")
        with s.block(f"for base, length in IOVEC_ITER(b{i}):"):
            s("part = mem_read(base, length)")
            if collect:
                s("ins.append((base, part))")
            s(f"parts{i}.append(part)")
        s(f"a{i} = b''.join(parts{i})")


def _not_mask(p: Param) -> str:
    assert p.type is not None
    mask = 0
    for member in p.type:  # type: ignore[attr-defined]
        mask |= int(member.value)
    return hex(~mask & 0xFFFF_FFFF_FFFF_FFFF)


def _type_name(p: Param) -> str:
    return p.type.__name__ if p.type is not None else p.name


# -- encoding ---------------------------------------------------------------------------

def _encode(s: _Src, sig: Signature, results: dict[str, str], collect: bool) -> None:
    """Emit the encoding of the kernel's answer into the out params, in order.
    ``results`` maps a result param to the local holding its value. Each
    written range goes to ``outs`` when ``collect``."""
    counts: dict[str, str] = {}
    for i, p in enumerate(sig.params):
        v = f"p{i}"
        if p.name not in results and p.count_of is None:
            continue
        role = p.role
        r = results.get(p.name, "")
        if role is Role.OUT:
            assert p.out is not None
            value = counts[p.count_of] if p.count_of is not None else r
            _emit_out(s, v, p.out, value, collect)
        elif role is Role.OUT_IOVS:
            s(f"n{i} = scatter(mem, iov{i}, {r}, {'outs' if collect else 'None'})")
            counts[p.name] = f"n{i}"
        elif role is Role.OUT_BUF:
            _emit_buf(s, sig, i, p, r, collect)
            counts[p.name] = f"len(w{i})"
        elif role is Role.OUT_DIRENTS:
            s(f"w{i} = pack_dirents({r}, {_p(sig, p.length)})")
            _emit_write(s, v, f"w{i}", collect)
            counts[p.name] = f"len(w{i})"
        elif role is Role.OUT_EVENTS:
            s(f"w{i} = list({r})")
            s(f"if len(w{i}) > {_p(sig, p.length)}:")
            s("    raise RuntimeError('kernel returned more events than subscriptions')")
            s(f"if w{i}:")
            s(f"    write({v}, pack_events(w{i}){', outs' if collect else ''})")
            counts[p.name] = f"len(w{i})"
        elif role is Role.OUT_PTR_ARRAY:
            buf = f"p{i + 1}"  # the OUT_STR_BUF right after it
            s(f"ptrs{i}, blob{i} = pack_strings({r}, {v}, {buf})")
            s(f"mem.check({v}, len(ptrs{i}))")
            s(f"mem.check({buf}, len(blob{i}))")
            s(f"if ptrs{i}:")
            s(f"    write({v}, ptrs{i}{', outs' if collect else ''})")
            s(f"if blob{i}:")
            s(f"    write({buf}, blob{i}{', outs' if collect else ''})")


def _emit_out(s: _Src, v: str, kind: OutKind, value: str, collect: bool) -> None:
    if kind.is_int:
        fmt = {OutKind.U8: "U8", OutKind.U16: "U16", OutKind.U32: "U32", OutKind.U64: "U64"}[kind]
        if collect:
            s(f"write({v}, {fmt}_PACK({value}), outs)")
        else:
            s(f"{fmt}_PACK_INTO(mem.view, {v}, {value})")
        return
    s(f"write({v}, PACK_{kind.name}({value}){', outs' if collect else ''})")


def _emit_buf(s: _Src, sig: Signature, i: int, p: Param, r: str, collect: bool) -> None:
    n = _p(sig, p.length)
    s(f"w{i} = {r}")
    if p.fill is Fill.EXACT:
        s(f"if len(w{i}) != {n}:")
        s(f"    raise RuntimeError('kernel returned ' + str(len(w{i})) + ' bytes, '"
          f"'wanted ' + str({n}))")
    elif p.fill is Fill.FIT:
        s(f"if len(w{i}) > {n}:")
        s("    raise WasiError(NAMETOOLONG, 'buffer shorter than the answer')")
    else:
        s(f"w{i} = w{i}[:{n}]")
    _emit_write(s, f"p{i}", f"w{i}", collect)


def _emit_write(s: _Src, v: str, data: str, collect: bool) -> None:
    s(f"if {data}:")
    s(f"    write({v}, {data}{', outs' if collect else ''})")


# -- whole functions ---------------------------------------------------------------------


def _kernel_call(s: _Src, sig: Signature, args: list[str]) -> dict[str, str]:
    results = [p.name for p in sig.result_params]
    call = f"kernel.{sig.name}({', '.join(args)})"
    if not results:
        s(call)
        return {}
    if len(results) == 1:
        s(f"r0 = {call}")
        return {results[0]: "r0"}
    names = [f"r{k}" for k in range(len(results))]
    s(f"{', '.join(names)} = {call}")
    return dict(zip(results, names, strict=True))


def _unpack_params(s: _Src, sig: Signature) -> str:
    names = [f"p{i}" for i in range(len(sig.params))]
    if not names:
        return "()"
    s(f"{', '.join(names)}{',' if len(names) == 1 else ''} = UNPACK(slots)")
    return f"({', '.join(names)}{',' if len(names) == 1 else ''})"


def _prologue(s: _Src, sig: Signature, opts: Options) -> str:
    s("if args != last[0]:")
    s("    last[1] = slots_at(args)")
    s("    last[0] = args")
    s("slots = last[1]")
    params = _unpack_params(s, sig)
    if opts.intercept:
        s(f"early = intercept(SIG, {params})")
        s("if early is not None:")
        s("    ERRNO_PACK_INTO(slots, 0, early)")
        s("    return 0")
    if opts.count:
        s("counter.n += 1")
    return params


def _epilogue(s: _Src, sig: Signature) -> None:
    if sig.result is not None:
        s("ERRNO_PACK_INTO(slots, 0, errno)")
    s("return 0")


def _source_run(sig: Signature, opts: Options) -> str:
    s = _Src()
    with s.block("def make(kernel, mem, stop, intercept, counter, env):"):
        _bind_env(s)
        with s.block("def callback(_env, _caller, args, _count):"):
            with s.block("try:"):
                _prologue(s, sig, opts)
                results = _kernel_call(s, sig, _decode(s, sig, collect=False))
                _encode(s, sig, results, collect=False)
                s(_success(sig, opts))
            with s.block("except WasiError as e:"):
                s("errno = e.errno")
            with s.block("except BaseException as e:"):
                s("return stop(SIG, e)")
            _epilogue(s, sig)
        s("return callback")
    return s.text()


def _success(sig: Signature, opts: Options) -> str:
    """The errno of a successful RUN (``Options.report_stdio``)."""
    return "errno = STDIO.get(p0, 0) << 16" if opts.report_stdio and sig.stdio else "errno = 0"


def _source_record(sig: Signature, opts: Options) -> str:
    s = _Src()
    with s.block("def make(kernel, mem, stop, intercept, counter, env):"):
        _bind_env(s)
        with s.block("def callback(_env, _caller, args, _count):"):
            s("ins = []")
            s("outs = []")
            with s.block("try:"):
                params = _prologue(s, sig, opts)
                results = _kernel_call(s, sig, _decode(s, sig, collect=True))
                _encode(s, sig, results, collect=True)
                s("errno = 0")
                if sig.stdio:
                    s("flags = STDIO.get(p0, 0)")
                else:
                    s("flags = 0")
            with s.block("except WasiError as e:"):
                s("errno = e.errno")
                s("flags = 0")
                s("outs = []")
            with s.block("except BaseException as e:"):
                s("return stop(SIG, e)")
            with s.block("try:"):
                s(f"emit(FID, flags, {params}, errno, ins, outs)")
            with s.block("except BaseException as e:"):
                s("return stop(SIG, e)")
            _epilogue(s, sig)
        s("return callback")
    return s.text()


def _source_observe(sig: Signature, opts: Options) -> str:
    s = _Src()
    with s.block("def make(kernel, mem, stop, intercept, counter, env):"):
        _bind_env(s)
        with s.block("def observe(params):"):
            names = [f"p{i}" for i in range(len(sig.params))]
            if names:
                s(f"{', '.join(names)}{',' if len(names) == 1 else ''} = params")
            s("ins = []")
            s("outs = []")
            with s.block("try:"):
                args = _decode(s, sig, collect=True)
                with s.block("if kernel is None:"):
                    s("return ins, None, outs")
                results = _kernel_call(s, sig, args)
                _encode(s, sig, results, collect=True)
            with s.block("except WasiError as e:"):
                s("return ins, e.errno, []")
            s("return ins, 0, outs")
        s("return observe")
    return s.text()


def _bind_env(s: _Src) -> None:
    """Pull every helper the body may use into closure cells (fast lookups)."""
    for name in _ENV_NAMES:
        s(f"{name} = env['{name}']")
    s("mem_read = mem.read")
    s("last = [0, env['idle_slots']]")


_ENV_NAMES = (
    "SIG",
    "FID",
    "UNPACK",
    "WasiError",
    "INVAL",
    "NAMETOOLONG",
    "RIGHTS_MASK",
    "IOVEC_UNPACK",
    "IOVEC_ITER",
    "SUBSCRIPTION_SIZE",
    "EVENT_SIZE",
    "path_text",
    "out_iovecs",
    "scatter",
    "subscriptions",
    "write",
    "pack_dirents",
    "pack_events",
    "pack_strings",
    "U8_PACK",
    "U16_PACK",
    "U32_PACK",
    "U64_PACK",
    "U8_PACK_INTO",
    "U16_PACK_INTO",
    "U32_PACK_INTO",
    "U64_PACK_INTO",
    "PACK_FDSTAT",
    "PACK_FILESTAT",
    "PACK_PRESTAT",
    "ERRNO_PACK_INTO",
    "slots_at",
    "emit",
    "STDIO",
) + tuple(f"VALID_{i}" for i in range(16))


def source(sig: Signature, shape: Shape, opts: Options = Options()) -> str:
    """The generated source of ``sig`` in ``shape`` (for tests and curious readers)."""
    if sig.irregular is not None:
        raise ValueError(f"{sig.name} is irregular ({sig.irregular})")
    maker = {Shape.RUN: _source_run, Shape.RECORD: _source_record, Shape.OBSERVE: _source_observe}[
        shape
    ]
    return maker(sig, opts)


@functools.cache
def factory(
    sig: Signature, shape: Shape, opts: Options = Options()
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The compiled ``make(kernel, mem, stop, intercept, counter, env)`` of ``sig``,
    and the constants its ``env`` must add (the structs a simple RECORD packs with)."""
    from . import fastgen

    consts: dict[str, Any] = {}
    if shape is not Shape.OBSERVE and not opts.generic and fastgen.is_simple(sig):
        text, consts = fastgen.source(sig, shape is Shape.RECORD, opts)
    else:
        text = source(sig, shape, opts)
    namespace: dict[str, Any] = {}
    code = compile(text, f"<wasi-rr {shape.value} {sig.name}>", "exec")
    exec(code, namespace)  # our own generated source, see ``source``
    make: Callable[..., Any] = namespace["make"]
    return make, consts


def simple_source(sig: Signature, shape: Shape, opts: Options = Options()) -> str:
    """The straight-line source of a simple signature (``fastgen``), for readers."""
    from . import fastgen

    return fastgen.source(sig, shape is Shape.RECORD, opts)[0]


def valid_values(sig: Signature) -> dict[str, frozenset[int]]:
    """``VALID_i`` sets for the ENUM params of ``sig``."""
    out: dict[str, frozenset[int]] = {}
    for i, p in enumerate(sig.params):
        if p.role is Role.ENUM and p.type is not None:
            out[f"VALID_{i}"] = frozenset(int(m.value) for m in p.type)  # type: ignore[attr-defined]
    return out


def is_i64(p: Param) -> bool:
    return p.wasm is WasmType.I64
