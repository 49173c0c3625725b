"""Build corpus guests (``corpus/NAME.c``) into WASI preview1 modules with zig.

Why a cache keyed by content: zig's own cache makes a rebuild cheap, but spawning
zig still costs ~100 ms per guest and a cold zig cache ~30 s. Keying the output by
the sha256 of (source, shared headers, flags, zig version) lets every test session
and every xdist worker reuse one build, and a changed source can never be served a
stale binary. Builds write to a unique temporary name and ``os.replace`` into place,
so concurrent workers building the same guest race harmlessly (last rename wins,
both files are identical).

zig is a *test dependency* (``pip install ziglang``), not optional: if it is
missing, building fails with a clear :class:`GuestBuildError`.

Command line: ``python tests/guestbuild.py NAME...`` builds and prints the paths.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
CACHE = REPO / ".cache" / "corpus"

CFLAGS: tuple[str, ...] = ("-target", "wasm32-wasi", "-O2", "-s")
"""Flags of every corpus build. Stripped (-s): zig's DWARF confuses older Binaryen."""
DEBUG_CFLAGS: tuple[str, ...] = ("-target", "wasm32-wasi", "-O0", "-g")
"""``build(name, debug=True)``: unoptimised, with DWARF and the name section, for
source-level debugging (gdb/lldb through ``replay --gdb``, file:line in ``bt``)."""


class GuestBuildError(RuntimeError):
    """A corpus guest could not be built (missing zig, compile error, unknown name)."""


def _zig_command() -> list[str]:
    return [sys.executable, "-m", "ziglang"]


@functools.cache
def zig_version() -> str:
    """Return zig's version string, or raise GuestBuildError if zig is not installed."""
    try:
        proc = subprocess.run(
            [*_zig_command(), "version"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:  # pragma: no cover - environment
        raise GuestBuildError(
            f"cannot run zig ({exc}); install the test extra: pip install ziglang"
        ) from exc
    if proc.returncode != 0:
        raise GuestBuildError(
            "zig is not available (python -m ziglang failed); it is a test dependency: "
            f"pip install ziglang\n{proc.stderr.strip()}"
        )
    return proc.stdout.strip()


def source_path(name: str) -> Path:
    """Return the C source of guest ``name`` or raise GuestBuildError if there is none."""
    src = CORPUS / f"{name}.c"
    if not src.is_file():
        raise GuestBuildError(f"no corpus guest named {name!r} (expected {src})")
    return src


def cache_key(name: str, *, debug: bool = False) -> str:
    """sha256 over the source, every shared header, the flags and the zig version."""
    h = hashlib.sha256()
    h.update(source_path(name).read_bytes())
    for header in sorted(CORPUS.glob("*.h")):
        h.update(header.name.encode() + b"\0" + header.read_bytes())
    h.update("\0".join(DEBUG_CFLAGS if debug else CFLAGS).encode())
    h.update(zig_version().encode())
    return h.hexdigest()


def build(name: str, cache_dir: Path = CACHE, *, debug: bool = False) -> Path:
    """Build ``corpus/<name>.c`` (or reuse the cached build) and return the .wasm path
    (``debug=True``: ``DEBUG_CFLAGS``, a separate cache entry)."""
    out = cache_dir / f"{cache_key(name, debug=debug)}.wasm"
    if out.is_file():
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".wasm", dir=cache_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _compile(source_path(name), tmp, flags=DEBUG_CFLAGS if debug else None)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def compile_source(source: str, directory: Path, name: str, *, strip: bool = True) -> Path:
    """Compile C ``source`` that is not a corpus file (a changed build of a corpus
    program, a benchmark's own guest) to ``directory/name.wasm``, uncached.

    ``strip=False`` keeps the name section, so wasm backtraces name functions.
    """
    src = directory / f"{name}.c"
    src.write_text(source)
    out = directory / f"{name}.wasm"
    _compile(src, out, strip=strip)
    return out


def _compile(src: Path, out: Path, *, strip: bool = True,
             flags: tuple[str, ...] | None = None) -> None:
    if flags is None:
        flags = CFLAGS if strip else tuple(f for f in CFLAGS if f != "-s")
    proc = subprocess.run(
        [*_zig_command(), "cc", *flags, "-I", str(CORPUS), str(src), "-o", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        raise GuestBuildError(f"building {src.name} failed:\n{proc.stderr.strip()}")


def main(argv: list[str]) -> int:
    """Build the named guests (all of them with no names) and print their paths."""
    names = argv or sorted(p.stem for p in CORPUS.glob("*.c"))
    status = 0
    for name in names:
        try:
            print(f"{name}\t{build(name)}")
        except GuestBuildError as exc:
            print(f"guestbuild: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
