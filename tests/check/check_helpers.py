"""Helpers of the ``check`` tests: a corpus of real journals with known outcomes,
and test hooks that make a worker process die while it replays a chosen trace.

The corpus is recorded through the public API (``wasi_rr.record.record``) from
several corpus guests, then spoiled on purpose: a truncated copy, a copy with
one flipped bit, a journal whose embedded module is another build of its
program (it diverges), one without its module (an error).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from wasi_rr.api import RunConfig
from wasi_rr.journal import Call, JournalWriter, open_journal
from wasi_rr.record import record
from wasi_rr.replay.check import TraceStatus

GOOD_PER_GUEST: dict[str, int] = {
    "exit_code": 50, "args_env": 50, "stdin_cat": 40, "random": 30, "clocks": 15,
    "fs_files": 10, "trap": 10,
}
"""Journals recorded per guest: 205 that must pass (a trap that replays the same is
a pass: ``check`` judges the replay, not the guest's exit status)."""

# another build of exit_code.c: same calls, other output bytes (a regression)
DIVERGING_SOURCE = ('printf("exiting with %d\\n", code);', 'printf("EXITING with %d\\n", code);')
# another build of exit_code.c that spins in wasm (no syscall) for half a minute first
SPIN_LOOP = "    for (volatile unsigned long long i = 0; i < (1ULL << 35); i++) {}"
SPINNING_SOURCE = ("int main(int argc, char **argv) {",
                   "int main(int argc, char **argv) {\n" + SPIN_LOOP)

KILL_ONCE = "kill-once.wrr"
"""A trace whose first replay kills its worker (``install_kill_hook``)."""
KILL_ALWAYS = "kill-always.wrr"
"""A trace whose every replay kills its worker."""


@dataclass(frozen=True)
class Corpus:
    root: Path
    expected: dict[str, TraceStatus]
    """Path (as ``check`` reports it, i.e. ``str(root / ...)``) -> status."""

    def count(self, status: TraceStatus) -> int:
        return sum(1 for s in self.expected.values() if s is status)


def record_journal(wasm: Path, journal: Path, args: list[str], *, stdin: bytes = b"",
                   env: dict[str, str] | None = None, tmpfs: list[str] | None = None,
                   embed_module: bool = True) -> Path:
    """Record ``wasm``; with ``embed_module=False`` the module is a unique copy (a
    random custom section) never compiled into the cache, so the journal cannot
    replay anywhere, as on a machine that never saw the module."""
    use_cache = True
    if not embed_module:
        unique = journal.with_suffix(".unique.wasm")
        unique.parent.mkdir(parents=True, exist_ok=True)
        name = b"wasi-rr-test"
        body = bytes([len(name)]) + name + os.urandom(16)
        unique.write_bytes(wasm.read_bytes() + b"\x00" + bytes([len(body)]) + body)
        wasm, use_cache = unique, False
    config = RunConfig(module=wasm, args=args, env=env or {}, tmpfs=tmpfs or [],
                       stdin=io.BytesIO(stdin), stdout=io.BytesIO(), stderr=io.BytesIO(),
                       argv0=wasm.name, use_cache=use_cache)
    journal.parent.mkdir(parents=True, exist_ok=True)
    record(config, journal, embed_module=embed_module)
    return journal


def _recipe(name: str, i: int) -> dict[str, object]:
    """Arguments of the ``i``-th recording of guest ``name`` (each journal differs)."""
    if name == "exit_code":
        return {"args": [str(i % 256)]}
    if name == "args_env":
        return {"args": [f"arg{i}", "x" * i], "env": {"K": str(i)}}
    if name == "stdin_cat":
        return {"args": [], "stdin": b"line %d\n" % i * (i + 1)}
    if name == "fs_files":
        return {"args": ["/data"], "tmpfs": ["/data"]}
    return {"args": []}


def record_good(guest: Callable[[str], Path], root: Path) -> dict[str, TraceStatus]:
    expected: dict[str, TraceStatus] = {}
    for name, count in GOOD_PER_GUEST.items():
        wasm = guest(name)
        for i in range(count):
            path = root / "good" / name / f"{name}-{i:03d}.wrr"
            record_journal(wasm, path, **_recipe(name, i))  # type: ignore[arg-type]
            expected[str(path)] = TraceStatus.PASSED
    return expected


def splice_module(src: Path, wasm: bytes, dst: Path) -> Path:
    """Copy journal ``src`` to ``dst`` with ``wasm`` embedded instead of the recorded
    module: replaying it runs another build against the recorded syscalls."""
    with open_journal(src) as reader:
        header = replace(reader.header, module_sha256="")
        entries = list(reader)
    with JournalWriter(dst, header, module=wasm, input_hash_threshold=None,
                       background=False) as writer:
        for e in entries:
            if isinstance(e, Call):
                writer.write_call(e)
            else:
                writer.write_event(e)
    return dst


def build_variant(guest_source: Path, edit: tuple[str, str], directory: Path,
                  name: str) -> bytes:
    """Another build of a corpus guest: its source with ``edit`` applied, compiled
    once and cached by content next to the corpus builds (like ``guestbuild``)."""
    import hashlib

    from guestbuild import CACHE, CFLAGS, compile_source, zig_version

    source = guest_source.read_text()
    assert edit[0] in source, f"{guest_source.name} changed: update the test's edit"
    edited = source.replace(edit[0], edit[1])
    headers = b"".join(h.read_bytes() for h in sorted(guest_source.parent.glob("*.h")))
    key = hashlib.sha256(edited.encode() + headers + " ".join(CFLAGS).encode()
                         + zig_version().encode()).hexdigest()
    cached = CACHE / f"variant-{key}.wasm"
    if not cached.is_file():
        built = compile_source(edited, directory, name)
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}")
        tmp.write_bytes(built.read_bytes())
        os.replace(tmp, cached)  # concurrent sessions race harmlessly
    return cached.read_bytes()


def spoil(data: bytes, how: str) -> bytes:
    if how == "truncate":
        return data[: len(data) * 3 // 5]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10  # one bit, inside a checksummed frame
    return bytes(flipped)


def wasi_rr(*args: str | os.PathLike[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess, as CI would."""
    env = {k: v for k, v in os.environ.items() if k != "WASI_RR_DEBUG"}
    return subprocess.run([sys.executable, "-m", "wasi_rr", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env, check=False)


# -- hooks installed in worker processes (by a LocalPool initializer or client.run) --------

def install_kill_hook(marker_dir: str) -> None:
    """Make this worker process die (``os._exit``) when it replays ``KILL_ALWAYS``,
    or ``KILL_ONCE`` for the first time (``marker_dir/killed`` remembers it across
    processes): a worker lost mid-trace, for real, at a known trace."""
    from wasi_rr.replay.check import worker

    original = worker._classify

    def classify(location: str, verify: bool) -> tuple[TraceStatus, str, float]:
        name = os.path.basename(location)
        marker = os.path.join(marker_dir, "killed")
        if name == KILL_ALWAYS or (name == KILL_ONCE and not os.path.exists(marker)):
            with open(marker, "a") as f:
                f.write(f"{os.getpid()}\n")
            os._exit(17)
        return original(location, verify)

    classify.__wrapped__ = original  # type: ignore[attr-defined]
    worker._classify = classify  # type: ignore[assignment]


def local_kill_hook_initializer(marker_dir: str) -> Callable[[], None]:
    """A ``LocalPool`` initializer: warm up, then install the kill hook."""
    import functools

    return functools.partial(_warm_and_hook, marker_dir)


def _warm_and_hook(marker_dir: str) -> None:
    from wasi_rr.replay.check.worker import warm_up

    warm_up()
    install_kill_hook(marker_dir)


def uninstall_kill_hook() -> None:
    from wasi_rr.replay.check import worker

    worker._classify = getattr(worker._classify, "__wrapped__", worker._classify)
