"""The straight-line RUN and RECORD callbacks of the *simple* signatures.

Most calls real programs make have only plain values, paths, one iovec, and
out values or one out buffer (``fd_write``/``fd_read`` with one buffer,
``path_open``, ``fd_seek``, ``clock_time_get``, ``path_filestat_get``,
``fd_close``...). For those, ``codegen`` asks this module for a callback with
no lists and no helper calls per role: guest memory is sliced inline, and a
recorded call becomes its binary record with one ``struct.pack`` per run of
fixed-size fields and one ``extend`` per variable-size part (the layout of
``journal.records``: header, params, descriptors, then the bytes).

The preconditions are checked before anything happens (an iovec count other
than 1 hands the call to the generic callback, untouched); the rare shapes
found after the kernel ran (an empty read, an input over the digest
threshold, a redacting recorder) are recorded through the generic ``emit``
with the same values. A faulting call records the inputs read before the fault
(locals start as None), exactly as the generic path does: tests record every
corpus guest both ways and compare the journals.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from wasi_rr.host.table import Fill, Param, Role, Signature
from wasi_rr.host.table.structs import OutKind
from wasi_rr.journal.records import HEADER

from .codegen import Options, _Indent, _not_mask, _p, _Src, _success, _type_name

SIMPLE_ROLES = frozenset({Role.FD, Role.VALUE, Role.SIGNED, Role.FLAGS, Role.RIGHTS, Role.ENUM,
                          Role.LEN, Role.IN_STR, Role.IN_IOVS, Role.OUT_IOVS, Role.OUT,
                          Role.OUT_BUF, Role.OUT_DIRENTS})
_INT_FMT = {OutKind.U8: "B", OutKind.U16: "H", OutKind.U32: "I", OutKind.U64: "Q"}


def is_simple(sig: Signature) -> bool:
    """Whether ``sig`` gets a straight-line callback."""
    return sig.irregular is None and all(p.role in SIMPLE_ROLES for p in sig.params)


@dataclass(frozen=True, slots=True)
class _Item:
    """One input or write of the record: ``(addr, bytes)`` as code."""

    addr: str
    kind: str
    """``var`` (bytes of any length), ``ints`` (packed ints), ``fixed`` (bytes of ``size``)."""
    expr: str
    fmt: str = ""
    size: int = 0
    optional: bool = False
    """A var write that is left out when empty (the record then takes the generic path)."""


# -- decoding ------------------------------------------------------------------------------

def _check(s: _Src, addr: str, length: str) -> None:
    s(f"if {addr} + {length} > size:")
    s(f"    mem.check({addr}, {length})")
    s("    size = mem.size")


def _decode(s: _Src, sig: Signature, record: bool) -> tuple[list[str], list[_Item]]:
    """Decode every param; return the kernel's argument expressions and the inputs."""
    args: dict[str, str] = {}
    inputs: list[_Item] = []
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
            args[p.name] = f"({v} & RIGHTS_MASK)"
        elif role is Role.ENUM:
            s(f"if {v} not in VALID_{i}:")
            s(f"    raise WasiError(INVAL, 'invalid {_type_name(p)}')")
            args[p.name] = v
        elif role is Role.IN_STR:
            n = _p(sig, p.length)
            _check(s, v, n)
            s(f"b{i} = mem.view[{v}:{v} + {n}].tobytes()")
            s(f"a{i} = path_text(b{i})")
            args[p.name] = f"a{i}"
            inputs.append(_Item(v, "var", f"b{i}"))
        elif role is Role.IN_IOVS:
            _check(s, v, "8")
            s(f"base{i}, len{i} = IOVEC_UNPACK_FROM(mem.view, {v})")
            _check(s, f"base{i}", f"len{i}")
            s(f"a{i} = mem.view[base{i}:base{i} + len{i}].tobytes()")
            args[p.name] = f"a{i}"
            inputs.append(_Item(v, "ints", f"base{i}, len{i}", "II", 8))
            inputs.append(_Item(f"base{i}", "var", f"a{i}"))
        elif role is Role.OUT_IOVS:
            _check(s, v, "8")
            s(f"base{i}, len{i} = IOVEC_UNPACK_FROM(mem.view, {v})")
            _check(s, f"base{i}", f"len{i}")
            args[p.name] = f"len{i}"
            inputs.append(_Item(v, "ints", f"base{i}, len{i}", "II", 8))
        elif role in (Role.OUT_BUF, Role.OUT_DIRENTS):
            _check(s, v, _p(sig, p.length))
            if p.to_kernel:
                args[p.name] = _p(sig, p.length)
        elif role is Role.OUT:
            assert p.out is not None
            _check(s, v, str(p.out.size))
    del record
    return [args[p.name] for p in sig.kernel_args], inputs


def _input_locals(sig: Signature) -> list[str]:
    """Locals a faulting call's inputs are rebuilt from (None until read)."""
    names = []
    for i, p in enumerate(sig.params):
        if p.role is Role.IN_STR:
            names.append(f"b{i}")
        elif p.role in (Role.IN_IOVS, Role.OUT_IOVS):
            names += [f"base{i}", f"len{i}"]
            if p.role is Role.IN_IOVS:
                names.append(f"a{i}")
    return names


def _inputs_so_far(s: _Src, sig: Signature) -> None:
    """``ins``: the inputs read before a fault, as the generic path records them."""
    s("ins = []")
    for i, p in enumerate(sig.params):
        if p.role is Role.IN_STR:
            s(f"if b{i} is not None:")
            s(f"    ins.append((p{i}, b{i}))")
        elif p.role in (Role.IN_IOVS, Role.OUT_IOVS):
            s(f"if base{i} is not None:")
            s(f"    ins.append((p{i}, IOVEC_PACK(base{i}, len{i})))")
            if p.role is Role.IN_IOVS:
                s(f"    if a{i} is not None:")
                s(f"        ins.append((base{i}, a{i}))")


# -- encoding ------------------------------------------------------------------------------

def _encode(s: _Src, sig: Signature, results: dict[str, str]) -> list[_Item]:
    """Encode the kernel's answer; return the writes in order."""
    writes: list[_Item] = []
    counts: dict[str, str] = {}
    for i, p in enumerate(sig.params):
        v = f"p{i}"
        r = results.get(p.name, "")
        if p.role is Role.OUT_IOVS:
            s(f"w{i} = {r}")
            s(f"if len(w{i}) > len{i}:")
            s(f"    w{i} = w{i}[:len{i}]")
            s(f"if w{i}:")
            s(f"    mem.view[base{i}:base{i} + len(w{i})] = w{i}")
            counts[p.name] = f"len(w{i})"
            writes.append(_Item(f"base{i}", "var", f"w{i}", optional=True))
        elif p.role is Role.OUT_BUF:
            _encode_buf(s, sig, i, p, r)
            counts[p.name] = f"len(w{i})"
            writes.append(_Item(v, "var", f"w{i}", optional=True))
        elif p.role is Role.OUT_DIRENTS:
            s(f"w{i} = pack_dirents({r}, {_p(sig, p.length)})")
            s(f"if w{i}:")
            s(f"    mem.view[{v}:{v} + len(w{i})] = w{i}")
            counts[p.name] = f"len(w{i})"
            writes.append(_Item(v, "var", f"w{i}", optional=True))
        elif p.role is Role.OUT:
            assert p.out is not None
            value = counts[p.count_of] if p.count_of is not None else r
            writes.append(_encode_out(s, i, p.out, value))
    return writes


def _encode_buf(s: _Src, sig: Signature, i: int, p: Param, r: str) -> None:
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
    s(f"if w{i}:")
    s(f"    mem.view[p{i}:p{i} + len(w{i})] = w{i}")


def _encode_out(s: _Src, i: int, kind: OutKind, value: str) -> _Item:
    if kind.is_int:
        s(f"o{i} = {value}")
        s(f"{kind.name}_PACK_INTO(mem.view, p{i}, o{i})")
        return _Item(f"p{i}", "ints", f"o{i}", _INT_FMT[kind], kind.size)
    s(f"o{i} = PACK_{kind.name}({value})")
    s(f"mem.view[p{i}:p{i} + {kind.size}] = o{i}")
    return _Item(f"p{i}", "fixed", f"o{i}", f"{kind.size}s", kind.size)


# -- the record -----------------------------------------------------------------------------


def _emit_fast(
    s: _Src,
    sig: Signature,
    inputs: list[_Item],
    writes: list[_Item],
    consts: dict[str, struct.Struct],
) -> None:
    """Append the record with one pack per run of fixed fields (module docstring)."""
    np_ = len(sig.params)
    items = inputs + writes
    fixed = HEADER.size + 8 * np_ + 8 * len(items) + sum(x.size for x in items if x.kind != "var")
    var = [x.expr for x in items if x.kind == "var"]
    size = " + ".join([str(fixed)] + [f"len({e})" for e in var])
    fields = [size, "FID", "flags", str(np_), str(len(inputs)), str(len(writes)), "0"]
    fields += [f"p{i}" for i in range(np_)]
    for x in items:
        length = f"len({x.expr})" if x.kind == "var" else str(x.size)
        fields += [x.addr, length]
    fmt = HEADER.format + "Q" * np_ + "II" * len(items)
    segments: list[tuple[str, list[str]] | str] = []
    for x in items:
        if x.kind == "var":
            segments.append((fmt, fields))
            segments.append(x.expr)
            fmt, fields = "<", []
        else:
            fmt += x.fmt
            fields += [x.expr] if x.kind == "fixed" else x.expr.split(", ")
    segments.append((fmt, fields))
    for seg in segments:
        if isinstance(seg, str):
            s(f"EXTEND({seg})")
        elif seg[1]:
            name = f"S{len(consts)}"
            consts[name] = struct.Struct(seg[0])
            s(f"EXTEND({name}.pack({', '.join(seg[1])}))")
    s("if len(BUF) >= LIMIT:")
    s("    FLUSH()")


def _emit(
    s: _Src,
    sig: Signature,
    params: str,
    inputs: list[_Item],
    writes: list[_Item],
    consts: dict[str, struct.Struct],
    opts: Options,
) -> None:
    """Record the successful call: the fast record when its shape allows, else ``emit``."""
    small = [f"len({x.expr}) <= THRESHOLD" for x in inputs if x.kind == "var"]
    if small and sig.stdio:  # bytes that reached stdout/stderr are never digested
        small = [f"({' and '.join(small)} or flags)"]
    nonempty = [x.expr for x in writes if x.optional]
    if opts.fast_emit:
        mine = ["CUR[0] == PID"] if opts.intercept else []  # several processes: ctx first
        test = " and ".join([*mine, *small, *nonempty]) or "True"
        with s.block(f"if {test}:"):
            _emit_fast(s, sig, inputs, writes, consts)
        s("else:")
    else:
        s("if True:")
    with _Indent(s):
        ins = ", ".join(f"({x.addr}, {_bytes_expr(x)})" for x in inputs)
        s(f"ins = [{ins}]")
        s("outs = []")
        for x in writes:
            if x.optional:
                s(f"if {x.expr}:")
                s(f"    outs.append(({x.addr}, {_bytes_expr(x)}))")
            else:
                s(f"outs.append(({x.addr}, {_bytes_expr(x)}))")
        s(f"emit(FID, flags, {params}, 0, ins, outs)")


def _bytes_expr(x: _Item) -> str:
    if x.kind == "ints":
        return f"PACK_{x.fmt}({x.expr})"
    return x.expr


# -- whole callbacks --------------------------------------------------------------------------


def source(sig: Signature, record: bool, opts: Options) -> tuple[str, dict[str, struct.Struct]]:
    """The simple callback's source and the structs it packs records with."""
    s = _Src()
    consts: dict[str, struct.Struct] = {}
    with s.block("def make(kernel, mem, stop, intercept, counter, env):"):
        s("last = [0, env['idle_slots']]")
        body = _Src()
        body.depth = s.depth + 1
        _body(body, sig, record, opts, consts)
        text = "\n".join(body.lines)
        for name in sorted(set(_NAME.findall(text)) | set(consts)):
            s(f"{name} = env[{name!r}]")
        s("def callback(_env, _caller, args, _count):")
        s.lines.extend(body.lines)
        s("return callback")
    return s.text(), consts


_NAME = re.compile(
    r"\b(?:[A-Z][A-Z0-9_]+|path_text|pack_dirents|slots_at|emit|generic|"
    r"WasiError)\b"
)
"""Names the body takes from ``env`` (bound as closure cells: faster than globals)."""


def _body(
    s: _Src, sig: Signature, record: bool, opts: Options, consts: dict[str, struct.Struct]
) -> None:
    names = [f"p{i}" for i in range(len(sig.params))]
    params = f"({', '.join(names)}{',' if len(names) == 1 else ''})"
    with s.block("try:"):
        s("if args != last[0]:")
        s("    last[1] = slots_at(args)")
        s("    last[0] = args")
        s("slots = last[1]")
        if names:
            s(f"{', '.join(names)}{',' if len(names) == 1 else ''} = UNPACK(slots)")
        for p in sig.params:
            if p.role in (Role.IN_IOVS, Role.OUT_IOVS):
                s(f"if {_p(sig, p.length)} != 1:")
                s("    return generic(_env, _caller, args, _count)")
        if opts.intercept:
            s(f"early = intercept(SIG, {params})")
            s("if early is not None:")
            s("    ERRNO_PACK_INTO(slots, 0, early)")
            s("    return 0")
        if opts.count:
            s("counter.n += 1")
    with s.block("except BaseException as e:"):
        s("return stop(SIG, e)")
    if record:
        for name in _input_locals(sig):
            s(f"{name} = None")
    with s.block("try:"):
        s("size = mem.size")
        args, inputs = _decode(s, sig, record)
        results = _kernel_call(s, sig, args)
        writes = _encode(s, sig, results)
        if record:
            s("flags = STDIO.get(p0, 0)" if sig.stdio else "flags = 0")
            _emit(s, sig, params, inputs, writes, consts, opts)
            s("errno = 0")
        else:
            s(_success(sig, opts))
    with s.block("except WasiError as e:"):
        s("errno = e.errno")
        if record:
            with s.block("try:"):
                _inputs_so_far(s, sig)
                s(f"emit(FID, 0, {params}, errno, ins, [])")
            with s.block("except BaseException as e2:"):
                s("return stop(SIG, e2)")
    with s.block("except BaseException as e:"):
        s("return stop(SIG, e)")
    if sig.result is not None:
        s("ERRNO_PACK_INTO(slots, 0, errno)")
    s("return 0")


def _kernel_call(s: _Src, sig: Signature, args: list[str]) -> dict[str, str]:
    results = [p.name for p in sig.result_params]
    call = f"kernel.{sig.name}({', '.join(args)})"
    if not results:
        s(call)
        return {}
    names = [f"r{k}" for k in range(len(results))]
    s(f"{', '.join(names)} = {call}")
    return dict(zip(results, names, strict=True))
