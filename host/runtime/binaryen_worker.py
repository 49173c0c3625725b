"""Child-process side of asyncify instrumentation (stdlib only, run as a script).

Why a separate process: Binaryen's C API reports unreadable or unsupported
input by calling ``Fatal()``, which prints to stderr and *exits the whole
process*; its pass arguments (``BinaryenSetPassArgument``) and optimize levels
are process-global state.  Running it in a short-lived child keeps both away
from the host: a module Binaryen cannot handle becomes a clean
``InstrumentationError`` in the parent, two instrumentations never share pass
options, and every byte Binaryen allocated (its IR arena is only freed when the
module is disposed) goes back to the system when the child exits.

Protocol (private to ``wasi_rr.host.runtime.instrument``)::

    argv:   LIBBINARYEN_PATH  JSON_OPTIONS
    stdin:  the module bytes (the parent already removed DWARF and names)
    stdout: one JSON header line, then the instrumented module bytes
    stderr: progress lines ``STAGE_MARK + stage name`` as each stage starts,
            mixed with Binaryen's own diagnostics (any other line)
    exit 0 on success; on failure exit 3 with a one-line reason on stdout.

``JSON_OPTIONS``::

    {"imports": [...], "export_prefix": str, "optimize_level": int,
     "shrink_level": int, "features": "all" | int,
     "ignore_indirect": bool, "low_memory_unused": bool}

The header lists every exported mutable global as
``{"index": i, "export": name, "type": "i32"|"i64"|"f32"|"f64"}`` and, under
``"stats"``, seconds per stage (``read_s``, ``asyncify_s``, ``write_s``), the
worker's CPU seconds (``cpu_total``) and peak RSS (``peak_rss_mib``), for the
benchmark.
"""

from __future__ import annotations

import ctypes
import json
import resource
import sys
import time
from typing import Any

STAGE_MARK = "\x1ewasi-rr-stage "
"""Prefix of a progress line on stderr (a record separator cannot start a
line of Binaryen's text diagnostics)."""


class WorkerFailure(Exception):
    """A reason to give back to the parent (not a crash of the worker)."""


class _WriteResult(ctypes.Structure):
    _fields_ = [
        ("binary", ctypes.c_void_p),
        ("binaryBytes", ctypes.c_size_t),
        ("sourceMap", ctypes.c_void_p),
    ]


def _bind(lib: ctypes.CDLL) -> None:
    """Declare the C signatures we use: ctypes' default int return would
    truncate 64-bit pointers."""
    p = ctypes.c_void_p
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "BinaryenModuleRead": (p, [ctypes.c_char_p, ctypes.c_size_t]),
        "BinaryenModuleDispose": (None, [p]),
        "BinaryenFeatureAll": (ctypes.c_uint32, []),
        "BinaryenModuleSetFeatures": (None, [p, ctypes.c_uint32]),
        "BinaryenGetNumGlobals": (ctypes.c_uint32, [p]),
        "BinaryenGetGlobalByIndex": (p, [p, ctypes.c_uint32]),
        "BinaryenGlobalGetName": (ctypes.c_char_p, [p]),
        "BinaryenGlobalGetType": (ctypes.c_size_t, [p]),
        "BinaryenGlobalIsMutable": (ctypes.c_bool, [p]),
        "BinaryenGetExport": (p, [p, ctypes.c_char_p]),
        "BinaryenAddGlobalExport": (p, [p, ctypes.c_char_p, ctypes.c_char_p]),
        "BinaryenTypeInt32": (ctypes.c_size_t, []),
        "BinaryenTypeInt64": (ctypes.c_size_t, []),
        "BinaryenTypeFloat32": (ctypes.c_size_t, []),
        "BinaryenTypeFloat64": (ctypes.c_size_t, []),
        "BinaryenSetPassArgument": (None, [ctypes.c_char_p, ctypes.c_char_p]),
        "BinaryenSetOptimizeLevel": (None, [ctypes.c_int]),
        "BinaryenSetShrinkLevel": (None, [ctypes.c_int]),
        "BinaryenSetLowMemoryUnused": (None, [ctypes.c_bool]),
        "BinaryenSetDebugInfo": (None, [ctypes.c_bool]),
        "BinaryenModuleRunPasses": (None, [p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_uint32]),
        "BinaryenModuleAllocateAndWrite": (_WriteResult, [p, ctypes.c_char_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


class _Stages:
    """Announces stages on stderr and times them for the header's ``stats``."""

    def __init__(self) -> None:
        self.stats: dict[str, float] = {}
        self._name = ""
        self._t0 = time.perf_counter()

    def start(self, name: str) -> None:
        self._close()
        self._name, self._t0 = name, time.perf_counter()
        sys.stderr.write(STAGE_MARK + name + "\n")
        sys.stderr.flush()

    def finish(self) -> dict[str, float]:
        self._close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        # CPU time (all threads): on a shared machine it varies less than wall time.
        self.stats["cpu_total"] = round(usage.ru_utime + usage.ru_stime, 1)
        # ru_maxrss is KiB on Linux (bytes on macOS; the benchmark runs on Linux).
        self.stats["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
        return self.stats

    def _close(self) -> None:
        if self._name:
            self.stats[f"{self._name}_s"] = round(time.perf_counter() - self._t0, 3)


def _export_mutable_globals(lib: ctypes.CDLL, module: int, prefix: str) -> list[dict[str, Any]]:
    """Export every mutable global as ``prefix + index``: a snapshot must save
    them all, and the C stack pointer (global 0) is normally not exported."""
    type_names = {
        lib.BinaryenTypeInt32(): "i32",
        lib.BinaryenTypeInt64(): "i64",
        lib.BinaryenTypeFloat32(): "f32",
        lib.BinaryenTypeFloat64(): "f64",
    }
    out: list[dict[str, Any]] = []
    for index in range(lib.BinaryenGetNumGlobals(module)):
        glob = lib.BinaryenGetGlobalByIndex(module, index)
        if not lib.BinaryenGlobalIsMutable(glob):
            continue
        type_name = type_names.get(lib.BinaryenGlobalGetType(glob))
        if type_name is None:
            raise WorkerFailure(
                f"mutable global {index} has a type snapshots cannot carry "
                "(only i32/i64/f32/f64 are supported)"
            )
        export = f"{prefix}{index}".encode()
        if lib.BinaryenGetExport(module, export):
            raise WorkerFailure(f"the module already exports a name {export.decode()!r}")
        lib.BinaryenAddGlobalExport(module, lib.BinaryenGlobalGetName(glob), export)
        out.append({"index": index, "export": export.decode(), "type": type_name})
    return out


def _set_pass_options(lib: ctypes.CDLL, options: dict[str, Any]) -> None:
    """Global pass options for the asyncify pass (see ``instrument._SETTINGS``
    for why each value was chosen)."""
    lib.BinaryenSetOptimizeLevel(int(options["optimize_level"]))
    lib.BinaryenSetShrinkLevel(int(options.get("shrink_level", 1)))
    lib.BinaryenSetLowMemoryUnused(bool(options.get("low_memory_unused", False)))
    lib.BinaryenSetDebugInfo(False)
    lib.BinaryenSetPassArgument(b"asyncify-imports", ",".join(options["imports"]).encode())
    if options.get("ignore_indirect"):
        lib.BinaryenSetPassArgument(b"asyncify-ignore-indirect", b"")


def _write(lib: ctypes.CDLL, module: int) -> bytes:
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free.restype = None
    result = lib.BinaryenModuleAllocateAndWrite(module, None)
    try:
        return ctypes.string_at(result.binary, result.binaryBytes)
    finally:
        libc.free(result.binary)
        if result.sourceMap:
            libc.free(result.sourceMap)


def instrument(lib_path: str, options: dict[str, Any], source: list[bytes]
               ) -> tuple[dict[str, Any], bytes]:
    """Read, export mutable globals, run asyncify, write.

    ``source`` is a one-element list that is emptied once Binaryen has its own
    copy of the module, so the input bytes are not held through the pass."""
    lib = ctypes.CDLL(lib_path)
    _bind(lib)
    stages = _Stages()
    stages.start("read")
    wasm = source.pop()
    module = lib.BinaryenModuleRead(wasm, len(wasm))
    del wasm
    if not module:
        raise WorkerFailure("binaryen could not read the module")
    try:
        features = options.get("features", "all")
        lib.BinaryenModuleSetFeatures(
            module, lib.BinaryenFeatureAll() if features == "all" else int(features))
        globals_out = _export_mutable_globals(lib, module, options["export_prefix"])
        _set_pass_options(lib, options)
        stages.start("asyncify")
        passes = (ctypes.c_char_p * 1)(b"asyncify")
        lib.BinaryenModuleRunPasses(module, passes, 1)
        stages.start("write")
        out = _write(lib, module)
    finally:
        lib.BinaryenModuleDispose(module)
    return {"globals": globals_out, "stats": stages.finish()}, out


def main(argv: list[str]) -> int:
    lib_path, options_json = argv[1], argv[2]
    source = [sys.stdin.buffer.read()]
    try:
        header, out = instrument(lib_path, json.loads(options_json), source)
    except WorkerFailure as exc:
        sys.stdout.write(str(exc) + "\n")
        return 3
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n")
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
