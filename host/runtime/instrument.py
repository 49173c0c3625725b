"""Asyncify instrumentation of guest modules, cached on disk.

Snapshots (and resume/fork built on them) need to stop a guest at a syscall,
save its wasm call stack into linear memory and rebuild it later.  Wasm gives
a host no access to the engine's stack, so we rewrite the module with
Binaryen's ``asyncify`` pass, which makes every function that can reach a WASI
import able to spill its locals to memory (unwind) and reload them (rewind).

A snapshot also needs every *mutable global*, and the C stack pointer
(global 0 of a clang/zig module) is not exported, so before the pass we
export each mutable global under a stable name ``__wasi_rr_global_<index>``.

Binaryen runs in a child process (``binaryen_worker.py``): its C API aborts
the whole process on input it cannot parse, and its pass options are
process-global.  Results are cached under
``$XDG_CACHE_HOME/wasi-rr/asyncify`` keyed by the input's sha256, the Binaryen
version and the options, so only the first run of a module pays.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from wasi_rr.host.runtime import wasmbin

__all__ = [
    "DEFAULT_ASYNCIFY_IMPORTS",
    "GLOBAL_EXPORT_PREFIX",
    "ASYNCIFY_EXPORTS",
    "GlobalType",
    "GlobalSpec",
    "InstrumentedModule",
    "InstrumentationError",
    "instrument",
    "find_libbinaryen",
    "default_cache_dir",
]

DEFAULT_ASYNCIFY_IMPORTS: tuple[str, ...] = ("wasi_snapshot_preview1.*", "wasix_32v1.*")
"""Imports allowed to unwind: every WASI preview1 and WASIX syscall."""

GLOBAL_EXPORT_PREFIX = "__wasi_rr_global_"
"""Exported name of mutable global ``i`` is ``GLOBAL_EXPORT_PREFIX + str(i)``."""

ASYNCIFY_EXPORTS: tuple[str, ...] = (
    "asyncify_start_unwind",
    "asyncify_stop_unwind",
    "asyncify_start_rewind",
    "asyncify_stop_rewind",
    "asyncify_get_state",
)

_CACHE_FORMAT = 1
"""Bump when the cached file layout or the worker's transformation changes."""

_OPTIMIZE_LEVEL = 2
"""Binaryen optimize level for the pass: asyncify uses it to prune needless
instrumentation (level 0 keeps every local save and makes the module larger
and slower)."""

_WORKER = Path(__file__).with_name("binaryen_worker.py")


class InstrumentationError(Exception):
    """The module cannot be instrumented; the message says why in one line.

    Raised for modules Binaryen cannot read or that snapshots cannot support
    (several memories, memory64, shared memory, reference-typed mutable
    globals), and when the ``icpp-binaryen`` package is not installed.
    """


class GlobalType(enum.Enum):
    """Value type of a captured mutable global."""

    I32 = "i32"
    I64 = "i64"
    F32 = "f32"
    F64 = "f64"


@dataclass(frozen=True, slots=True)
class GlobalSpec:
    """One mutable global of the original module and the name it is exported as."""

    index: int
    export: str
    type: GlobalType


@dataclass(frozen=True, slots=True)
class InstrumentedModule:
    """An asyncify-instrumented module plus what a snapshot needs to know about it.

    ``sha256`` identifies the *instrumented* bytes: a snapshot may only be
    restored into an instance of the very same module, so snapshots carry it.
    """

    wasm: bytes
    globals: tuple[GlobalSpec, ...]
    source_sha256: str
    sha256: str
    from_cache: bool


def find_libbinaryen() -> tuple[Path, str]:
    """Locate ``libbinaryen`` inside the installed ``icpp-binaryen`` wheel.

    Returns the library path and a version string for cache keys.  We only
    need the shared library (driven through ctypes), not the package's cffi
    bindings, so it is located through the distribution's file list.
    """
    try:
        dist = importlib.metadata.distribution("icpp-binaryen")
    except importlib.metadata.PackageNotFoundError:
        raise InstrumentationError(
            "snapshots need Binaryen: install the 'icpp-binaryen' package "
            "(pip install 'wasi-rr[snapshot]')"
        ) from None
    names = ("libbinaryen.so", "libbinaryen.dylib")
    for entry in dist.files or ():
        if entry.name in names:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path, f"icpp-binaryen-{dist.version}"
    raise InstrumentationError(
        f"icpp-binaryen {dist.version} is installed but its libbinaryen shared library is missing"
    )


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/wasi-rr/asyncify``, falling back to ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wasi-rr" / "asyncify"


def _check_memories(wasm: bytes) -> None:
    """Reject module shapes the snapshot protocol cannot carry.

    Asyncify keeps its unwind buffer in memory 0 and a snapshot captures one
    32-bit linear memory, so exactly one non-shared wasm32 memory is required.
    This walks only the import and memory sections (the module is already
    validated by wasmtime).
    """
    memories = [m.flags for m in wasmbin.memories(wasm)]  # limits flags of each
    if len(memories) != 1:
        raise InstrumentationError(
            f"snapshots need exactly one linear memory, the module has {len(memories)}"
        )
    if memories[0] & 0x4:
        raise InstrumentationError("snapshots do not support 64-bit memories (memory64)")
    if memories[0] & 0x2:
        raise InstrumentationError("snapshots do not support shared memories (threads)")


def _validate(wasm: bytes) -> None:
    if wasm[:4] != b"\0asm":
        raise InstrumentationError("not a WebAssembly module (bad magic number)")
    if wasm[4:8] != b"\x01\0\0\0":
        raise InstrumentationError("not a core WebAssembly module (components are not supported)")
    try:
        wasmtime.Module.validate(wasmtime.Engine(), wasm)
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise InstrumentationError(f"invalid WebAssembly module: {first}") from None
    try:
        _check_memories(wasm)
    except wasmbin.WasmFormatError as exc:
        raise InstrumentationError(f"unreadable WebAssembly module: {exc}") from None


def _parse_output(blob: bytes) -> tuple[dict[str, object], tuple[GlobalSpec, ...], bytes]:
    """Split ``header line + module bytes`` (worker output and cache file layout)."""
    header_end = blob.index(b"\n")
    header = json.loads(blob[:header_end])
    specs = tuple(
        GlobalSpec(index=int(g["index"]), export=str(g["export"]), type=GlobalType(g["type"]))
        for g in header["globals"]
    )
    return header, specs, blob[header_end + 1 :]


def _run_worker(lib: Path, options: dict[str, object], wasm: bytes) -> bytes:
    proc = subprocess.run(
        [sys.executable, "-I", str(_WORKER), str(lib), json.dumps(options)],
        input=wasm,
        capture_output=True,
        check=False,
    )
    if proc.returncode == 0:
        return proc.stdout
    if proc.returncode == 3:
        reason = proc.stdout.decode(errors="replace").strip()
    else:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = "binaryen failed: " + (lines[-1] if lines else f"exit status {proc.returncode}")
    raise InstrumentationError(f"cannot instrument module for snapshots: {reason}")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def instrument(
    module_bytes: bytes,
    imports: tuple[str, ...] | list[str] = DEFAULT_ASYNCIFY_IMPORTS,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> InstrumentedModule:
    """Return ``module_bytes`` asyncify-instrumented, with all mutable globals exported.

    ``imports`` are Binaryen ``asyncify-imports`` patterns (``module.name``,
    ``*`` wildcard): only calls to those imports may unwind.  The result is
    cached on disk (``cache_dir`` or ``default_cache_dir()``); a cache that
    cannot be written is not an error, only a lost speed-up.
    """
    wasm = bytes(module_bytes)
    lib, version = find_libbinaryen()
    options: dict[str, object] = {
        "imports": list(imports),
        "export_prefix": GLOBAL_EXPORT_PREFIX,
        "optimize_level": _OPTIMIZE_LEVEL,
    }
    source_sha = hashlib.sha256(wasm).hexdigest()
    key_material = json.dumps(
        {"src": source_sha, "binaryen": version, "opts": options, "fmt": _CACHE_FORMAT},
        sort_keys=True,
    ).encode()
    key = hashlib.sha256(key_material).hexdigest()
    cache_path = (cache_dir or default_cache_dir()) / f"{key}.bin"

    if use_cache:
        try:
            header, specs, out = _parse_output(cache_path.read_bytes())
            out_sha = hashlib.sha256(out).hexdigest()
            if header.get("sha256") != out_sha:
                raise ValueError("damaged cache entry")
        except (OSError, ValueError, KeyError, TypeError):
            pass  # absent or damaged: rebuild below and overwrite
        else:
            return InstrumentedModule(
                wasm=out, globals=specs, source_sha256=source_sha, sha256=out_sha, from_cache=True
            )

    _validate(wasm)
    header, specs, out = _parse_output(_run_worker(lib, options, wasm))
    out_sha = hashlib.sha256(out).hexdigest()
    if use_cache:
        header["sha256"] = out_sha
        try:
            _atomic_write(cache_path, json.dumps(header).encode() + b"\n" + out)
        except OSError:
            pass
    return InstrumentedModule(
        wasm=out, globals=specs, source_sha256=source_sha, sha256=out_sha, from_cache=False
    )
