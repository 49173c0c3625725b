"""Compiled modules and compressed module blobs, cached on disk by content hash.

Compilation dominates start-up for big guests (DESIGN §5), so every
compilation is kept: ``{sha256}-wasmtime{version}{variant}.cwasm`` holds
``Module.serialize()``'s bytes exactly, and is loaded with
``Module.deserialize_file``, which maps the file instead of copying it. A
``.crc`` sidecar (magic, CRC-32, size) is checked first: deserializing is only
safe for artifacts wasmtime itself produced, so a truncated or damaged file
must be a cache miss, never undefined behaviour (CRC-32 rather than SHA-256:
it guards against damage, not attackers, at twice the speed).

A module is identified by the SHA-256 of its bytes, computed once per command
(``ModuleBytes``): a replay finds its compiled module from the journal
header's hash without even decompressing the embedded copy, and a recording
reuses the compressed blob of a module it already embedded once.

Every failure (unwritable directory, stale or corrupt entry) only costs a
recompilation: caching is an optimisation, never a reason to fail a run.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Final

from wasmtime import Engine, Module, WasmtimeError

from wasi_rr.errors import ModuleError

from .engine import engine_variant, wasmtime_version

__all__ = [
    "CACHE_MIN_SIZE",
    "ModuleBytes",
    "ModuleCache",
    "compile_generated",
    "compile_module",
    "default_cache_dir",
    "error_chain",
]

_SIDECAR: Final = struct.Struct("<4sIQ")
_MAGIC: Final = b"WRRC"
CACHE_MIN_SIZE: Final = 4 * 1024
"""Modules smaller than this (hand-written WAT, tiny tests) compile in about a
millisecond; caching them would only litter the cache directory."""


def default_cache_dir() -> Path:
    """``$WASI_RR_CACHE_DIR``, else ``$XDG_CACHE_HOME/wasi-rr``, else ``~/.cache/wasi-rr``."""
    explicit = os.environ.get("WASI_RR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "wasi-rr"


@dataclass
class ModuleBytes:
    """A module's bytes and (computed at most once) their SHA-256."""

    data: bytes
    known_sha256: str | None = field(default=None, repr=False)

    @cached_property
    def sha256(self) -> str:
        if self.known_sha256:
            return self.known_sha256
        import hashlib  # here: loading OpenSSL costs ~4 ms, and a module too small
        # for the cache is never hashed by ``run``

        return hashlib.sha256(self.data).hexdigest()


def _write_atomic(target: Path, data: bytes | bytearray | memoryview) -> None:
    import tempfile  # here: with shutil, bz2 and lzma it costs every start-up ~4 ms

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(slots=True)
class ModuleCache:
    """Compiled modules keyed by module SHA-256, wasmtime version and engine variant."""

    directory: Path
    min_size: int = CACHE_MIN_SIZE

    def path_for(self, sha256: str, engine: Engine) -> Path:
        return (
            self.directory / f"{sha256}-wasmtime{wasmtime_version()}{engine_variant(engine)}.cwasm"
        )

    def load_hash(self, engine: Engine, sha256: str) -> Module | None:
        """The compiled module of the module whose SHA-256 is ``sha256``, if cached."""
        path = self.path_for(sha256, engine)
        try:
            magic, crc, size = _SIDECAR.unpack(Path(f"{path}.crc").read_bytes())
            with open(path, "rb") as f:
                if magic != _MAGIC or os.fstat(f.fileno()).st_size != size or not size:
                    return None
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    if zlib.crc32(mapped) != crc:
                        return None
            return Module.deserialize_file(engine, str(path))
        except (OSError, ValueError, struct.error, WasmtimeError):
            return None

    def load(self, engine: Engine, wasm: ModuleBytes) -> Module | None:
        if len(wasm.data) < self.min_size:
            return None
        return self.load_hash(engine, wasm.sha256)

    def store(self, engine: Engine, wasm: ModuleBytes, module: Module) -> None:
        if len(wasm.data) < self.min_size:
            return
        target = self.path_for(wasm.sha256, engine)
        try:
            payload = module.serialize()
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, payload)
            _write_atomic(
                Path(f"{target}.crc"), _SIDECAR.pack(_MAGIC, zlib.crc32(payload), len(payload))
            )
        except (OSError, WasmtimeError):
            return

    # -- the journal's embedded module copy, as an encoded frame --------------------------
    def blob_path(self, sha256: str) -> Path:
        return self.directory / "blobs" / f"{sha256}.frame"

    def load_blob(self, sha256: str) -> bytes | None:
        try:
            return self.blob_path(sha256).read_bytes()
        except OSError:
            return None

    def store_blob(self, sha256: str, data: bytes) -> None:
        target = self.blob_path(sha256)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, data)
        except OSError:
            return


def compile_module(
    engine: Engine,
    wasm: bytes | ModuleBytes,
    *,
    name: str = "module",
    cache: ModuleCache | None = None,
) -> Module:
    """Compile ``wasm`` (binary, or WAT text) or raise ``ModuleError``."""
    mb = wasm if isinstance(wasm, ModuleBytes) else ModuleBytes(wasm)
    if cache is not None:
        cached = cache.load(engine, mb)
        if cached is not None:
            return cached
    try:
        module = Module(engine, mb.data)
    except WasmtimeError as e:
        detail = error_chain(str(e))
        if not mb.data.startswith(b"\0asm"):
            detail = f"not a WebAssembly binary (no \\0asm magic) nor WAT text ({detail})"
        raise ModuleError(f"invalid module {name}: {detail}") from None
    if cache is not None:
        cache.store(engine, mb, module)
    return module


def error_chain(text: str) -> str:
    """wasmtime's ``msg\\n\\nCaused by:\\n    cause`` as ``msg: cause`` on one line."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return ": ".join(line for line in lines if line and line != "Caused by:")


def compile_generated(engine: Engine, text: str, *, name: str,
                      cache: ModuleCache | None) -> Module:
    """A module wasi-rr generated as WAT (a stub, the recorder, the replayer),
    compiled through ``cache``'s directory whatever its size: parsing the WAT alone
    costs milliseconds, more than loading the compiled module."""
    small = ModuleCache(cache.directory, min_size=0) if cache is not None else None
    return compile_module(engine, _generated_bytes(text), name=name, cache=small)


@lru_cache(maxsize=16)
def _generated_bytes(text: str) -> ModuleBytes:
    """``text`` encoded, its SHA-256 computed once per process: the generated
    replayer is a few hundred KiB of WAT, and a worker replaying thousands of
    traces links it for every one (the text itself is cached by its generator,
    so the lookup hashes a string whose hash Python already keeps)."""
    return ModuleBytes(text.encode())
