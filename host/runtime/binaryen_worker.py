"""Child-process side of asyncify instrumentation (stdlib only, run as a script).

Why a separate process: Binaryen's C API reports unreadable or unsupported
input by calling ``Fatal()``, which prints to stderr and *exits the whole
process*; its pass arguments (``BinaryenSetPassArgument``) are process-global
state.  Running it in a short-lived child keeps both away from the host: a
module Binaryen cannot handle becomes a clean ``InstrumentationError`` in the
parent, and two instrumentations never share pass options.

Protocol (private to ``wasi_rr.host.runtime.instrument``)::

    argv:   LIBBINARYEN_PATH  JSON_OPTIONS
    stdin:  the module bytes
    stdout: one JSON header line, then the instrumented module bytes
    exit 0 on success; on failure exit 3 with a one-line reason on stdout
    (Binaryen's own diagnostics go to stderr, which the parent collects).

``JSON_OPTIONS`` = {"imports": [...], "export_prefix": str, "optimize_level": int}.
The header lists every exported mutable global as
``{"index": i, "export": name, "type": "i32"|"i64"|"f32"|"f64"}``.
"""

from __future__ import annotations

import ctypes
import json
import sys
from typing import Any


class WorkerFailure(Exception):
    """A reason to give back to the parent (not a crash of the worker)."""


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
        "BinaryenModuleRunPasses": (None, [p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_uint32]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


class _WriteResult(ctypes.Structure):
    _fields_ = [
        ("binary", ctypes.c_void_p),
        ("binaryBytes", ctypes.c_size_t),
        ("sourceMap", ctypes.c_void_p),
    ]


def instrument(lib_path: str, options: dict[str, Any], wasm: bytes) -> tuple[dict[str, Any], bytes]:
    """Export every mutable global, run the asyncify pass, serialize."""
    lib = ctypes.CDLL(lib_path)
    _bind(lib)
    lib.BinaryenModuleAllocateAndWrite.restype = _WriteResult
    lib.BinaryenModuleAllocateAndWrite.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free.restype = None

    type_names = {
        lib.BinaryenTypeInt32(): "i32",
        lib.BinaryenTypeInt64(): "i64",
        lib.BinaryenTypeFloat32(): "f32",
        lib.BinaryenTypeFloat64(): "f64",
    }
    prefix: str = options["export_prefix"]
    module = lib.BinaryenModuleRead(wasm, len(wasm))
    if not module:
        raise WorkerFailure("binaryen could not read the module")
    try:
        lib.BinaryenModuleSetFeatures(module, lib.BinaryenFeatureAll())
        globals_out: list[dict[str, Any]] = []
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
            globals_out.append({"index": index, "export": export.decode(), "type": type_name})

        lib.BinaryenSetOptimizeLevel(int(options["optimize_level"]))
        lib.BinaryenSetPassArgument(b"asyncify-imports", ",".join(options["imports"]).encode())
        passes = (ctypes.c_char_p * 1)(b"asyncify")
        lib.BinaryenModuleRunPasses(module, passes, 1)

        result = lib.BinaryenModuleAllocateAndWrite(module, None)
        try:
            out = ctypes.string_at(result.binary, result.binaryBytes)
        finally:
            libc.free(result.binary)
            if result.sourceMap:
                libc.free(result.sourceMap)
    finally:
        lib.BinaryenModuleDispose(module)
    return {"globals": globals_out}, out


def main(argv: list[str]) -> int:
    lib_path, options_json = argv[1], argv[2]
    wasm = sys.stdin.buffer.read()
    try:
        header, out = instrument(lib_path, json.loads(options_json), wasm)
    except WorkerFailure as exc:
        sys.stdout.write(str(exc) + "\n")
        return 3
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n")
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
