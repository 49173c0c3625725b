"""Run one guest invocation under two hosts and capture what it observably did.

The differential tests compare wasi-rr against wasmtime's built-in WASI, which is
the reference. Both runners here take the same :class:`Invocation` and return an
:class:`Outcome` (stdout, stderr, exit status, trapped or not), so a test is
``assert run_wasi_rr(inv) == run_reference(inv)``.

Each runner gets its *own* copy of every host directory (``copy_dirs``): a guest
that writes files must not see the other host's leftovers. A ``tmpfs`` mount is an
empty in-memory directory in wasi-rr; the reference gets a fresh empty host temp
directory in its place, which is observably the same for a guest that only prints
deterministic properties.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime

from wasi_rr import DirMount, MountMode, RunConfig, run
from wasi_rr.exitcodes import ExitStatus

ARGV0 = "guest.wasm"
"""argv[0] both hosts give the guest (wasmtime's CLI would pass the module path)."""


@dataclass(frozen=True)
class Outcome:
    """Everything a guest run shows to the outside world."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    """proc_exit status, 0 when _start returned, ExitStatus.TRAP (134) after a trap."""
    trapped: bool


@dataclass
class Invocation:
    """What to run: module, argv[1:], environment, mounts and stdin bytes."""

    module: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    dirs: list[tuple[Path, str]] = field(default_factory=list)
    """(host directory, guest path) pairs, preopened read-write."""
    tmpfs: list[str] = field(default_factory=list)
    """Guest paths that are empty writable directories."""
    stdin: bytes = b""
    trap_unknown_imports: bool = False
    """Define imports that are not WASI as functions that trap when called
    (wasmtime's ``--trap-unknown-imports``); needed by guests such as MicroPython's
    that import host hooks they never call in a plain run."""


def copy_tree(src: Path, dest: Path) -> None:
    """Copy a directory tree keeping symlinks as symlinks and hard links as hard
    links (``shutil.copytree`` would split them), plus file times."""
    first_copy: dict[tuple[int, int], Path] = {}
    dest.mkdir()
    for root, dirnames, filenames in os.walk(src):
        rel = Path(root).relative_to(src)
        for name in dirnames + filenames:
            s, d = Path(root) / name, dest / rel / name
            st = os.lstat(s)
            if os.path.islink(s):
                os.symlink(os.readlink(s), d)
            elif name in dirnames:
                d.mkdir()
            elif (st.st_dev, st.st_ino) in first_copy:
                os.link(first_copy[(st.st_dev, st.st_ino)], d)
            else:
                shutil.copy2(s, d)
                first_copy[(st.st_dev, st.st_ino)] = d


def copy_dirs(inv: Invocation, scratch: Path) -> list[tuple[Path, str]]:
    """Copy every mounted host dir into ``scratch`` so runs never share state."""
    copies: list[tuple[Path, str]] = []
    for index, (host, guest) in enumerate(inv.dirs):
        dest = scratch / f"dir{index}"
        copy_tree(host, dest)
        copies.append((dest, guest))
    return copies


_ENGINE = wasmtime.Engine()
"""One engine for all reference runs: compiled modules are tied to their engine."""


@functools.lru_cache(maxsize=16)
def _compiled(path: Path, mtime_ns: int, size: int) -> wasmtime.Module:
    """Compile once per file version: a multi-MB third-party module takes ~1 s."""
    return wasmtime.Module.from_file(_ENGINE, str(path))


def _module(path: Path) -> wasmtime.Module:
    st = path.stat()
    return _compiled(path, st.st_mtime_ns, st.st_size)


def tree(root: Path) -> dict[str, str | bytes]:
    """Snapshot a host directory: relative path -> file bytes, "<dir>" or "-> target".

    Used to check that two hosts left the same files behind.
    """
    snap: dict[str, str | bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            snap[rel] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            snap[rel] = "<dir>"
        else:
            snap[rel] = path.read_bytes()
    return snap


def run_reference(inv: Invocation, scratch: Path | None = None) -> Outcome:
    """Run under wasmtime's built-in WASI (the reference), on copies of the host dirs.

    With ``trap_unknown_imports`` the non-WASI imports trap when called.
    """
    with tempfile.TemporaryDirectory(prefix="wasi-ref-") as tmp_name:
        tmp = Path(tmp_name)
        work = scratch if scratch is not None else tmp
        mounts = copy_dirs(inv, work)
        for index, guest in enumerate(inv.tmpfs):
            empty = work / f"tmpfs{index}"
            empty.mkdir()
            mounts.append((empty, guest))
        stdin_path, out_path, err_path = tmp / "stdin", tmp / "stdout", tmp / "stderr"
        stdin_path.write_bytes(inv.stdin)

        config = wasmtime.WasiConfig()
        config.argv = [ARGV0, *inv.args]
        config.env = list(inv.env.items())
        for host, guest in mounts:
            config.preopen_dir(str(host), guest)
        config.stdin_file = str(stdin_path)
        config.stdout_file = str(out_path)
        config.stderr_file = str(err_path)

        store = wasmtime.Store(_ENGINE)
        store.set_wasi(config)
        linker = wasmtime.Linker(_ENGINE)
        linker.define_wasi()
        module = _module(inv.module)
        if inv.trap_unknown_imports:
            linker.define_unknown_imports_as_traps(module)
        instance = linker.instantiate(store, module)
        start = instance.exports(store)["_start"]
        assert isinstance(start, wasmtime.Func)
        exit_code, trapped = 0, False
        try:
            start(store)
        except wasmtime.ExitTrap as exc:
            exit_code = exc.code
        except (wasmtime.Trap, wasmtime.WasmtimeError):
            # proc_exit arrives as ExitTrap; a wasm trap or a host error aborts the
            # guest, which the wasi-rr CLI reports with ExitStatus.TRAP.
            exit_code, trapped = int(ExitStatus.TRAP), True
        del store
        return Outcome(out_path.read_bytes(), err_path.read_bytes(), exit_code, trapped)


def run_wasi_rr(inv: Invocation, scratch: Path | None = None) -> Outcome:
    """Run under ``wasi_rr.run`` with the same argv, env, mounts and stdin."""
    with tempfile.TemporaryDirectory(prefix="wasi-rr-") as tmp_name:
        work = scratch if scratch is not None else Path(tmp_name)
        mounts = copy_dirs(inv, work)
        stdout, stderr = io.BytesIO(), io.BytesIO()
        result = run(
            RunConfig(
                module=inv.module,
                args=list(inv.args),
                env=dict(inv.env),
                dirs=[DirMount(host=h, guest=g, mode=MountMode.WRITE_THROUGH) for h, g in mounts],
                tmpfs=list(inv.tmpfs),
                stdin=io.BytesIO(inv.stdin),
                stdout=stdout,
                stderr=stderr,
                argv0=ARGV0,
                trap_unknown_imports=inv.trap_unknown_imports,
            )
        )
        return Outcome(
            stdout.getvalue(), stderr.getvalue(), result.exit_code, result.trap is not None
        )
