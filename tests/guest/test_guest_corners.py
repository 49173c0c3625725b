"""File-system corner cases found by the seeded fuzz differential (corpus/fs_corners.c).

The expected ``open`` results are generated from the rules the reference follows
(wasmtime's WASI on Linux), written down once in :func:`expected_open`; the rest
are literal lines. Where wasi-rr still differs the comparison is a strict xfail
naming the rule; the mark must go once it is fixed (strict: an unexpected pass
fails the suite, so it cannot be forgotten).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guestrun import Invocation, run_reference, run_wasi_rr

EXTRAS = ["-", "creat", "excl", "trunc", "creat|excl", "creat|trunc", "excl|trunc"]


def expected_open(target: str, acc: str, extra: str, directory: bool) -> str:
    """What open() gives for one flag combination (see corpus/README.md).

    - O_DIRECTORY with any of O_CREAT/O_EXCL/O_TRUNC is EINVAL before any lookup.
    - O_CREAT|O_EXCL on an existing name is EEXIST (file or directory).
    - A directory opened for writing, or with O_CREAT or O_TRUNC, is EISDIR.
    - O_DIRECTORY on a regular file is ENOTDIR; a missing name without O_CREAT is ENOENT.
    """
    flags = set() if extra == "-" else set(extra.split("|"))
    if directory and flags & {"creat", "excl", "trunc"}:
        return "EINVAL"
    if target == "missing":
        return "ok" if "creat" in flags and not directory else "ENOENT"
    if {"creat", "excl"} <= flags:
        return "EEXIST"
    if target == "file":
        return "ENOTDIR" if directory else "ok"
    if acc != "rdonly" or flags & {"creat", "trunc"}:
        return "EISDIR"
    return "ok"


def expected_output() -> str:
    lines = []
    for target in ("file", "dir", "missing"):
        for acc in ("rdonly", "wronly", "rdwr"):
            for directory in (False, True):
                for extra in EXTRAS:
                    lines.append(f"open {target} {acc}{'|directory' if directory else ''} "
                                 f"{extra}: {expected_open(target, acc, extra, directory)}")
    return "\n".join(lines) + "\n" + TAIL


TAIL = """\
rdonly: ftruncate EINVAL, write EBADF
rdonly|creat: ftruncate ok, write ok
rdonly|trunc: ftruncate ok, write ok
creat|excl on dangling symlink: EEXIST(20)
dangling target still missing: ENOENT(44)
creat on dangling symlink: ok
dangling target after creat: ok
pwrite append fd at 1: 2
size after pwrite on append fd: 7 offset: 5
contents: [12345ab]
pwrite 0 bytes at 10: 0
write 0 bytes at 20: 0
size after zero-length writes: 3
ftruncate dir fd: EBADF(8)
write dir fd: EBADF(8)
setfl append on dir fd: EBADF(8)
setfl 0 on dir fd: EBADF(8)
setfl append on read-only file: ok
read-only file append flag now: 1
rename dir into own subdir over a file: EINVAL(28)
rename dir into own subdir (new name): EINVAL(28)
rename subdir onto its non-empty parent: ENOTEMPTY(55)
rename file onto its non-empty parent: ENOTEMPTY(55)
rename file onto a non-empty dir: EISDIR(31)
rename missing into missing dir: ENOENT(44)
link dir onto existing file: EEXIST(20)
link dir onto missing: EPERM(63)
link missing onto existing: ENOENT(44)
link file onto existing dir: EEXIST(20)
link file into missing dir: ENOENT(44)
link dir into missing dir: ENOENT(44)
link dir onto dangling symlink: EEXIST(20)
link below a regular file: ENOTDIR(54)
symlink below a regular file: ENOTDIR(54)
mkdir below a regular file: ENOTDIR(54)
rmdir while open: ok
fstat removed dir: ok type=dir
create in removed dir: ENOENT(44)
unlink while open: ok
fstat unlinked file: ok size=10 nlink=0
write unlinked file: 1
pread unlinked file: 11
ftruncate unlinked file: ok
name stays gone: ENOENT(44)
open below a symlink loop: ELOOP(32)
create below a symlink loop: ELOOP(32)
mkdir below a symlink loop: ELOOP(32)
rename into a symlink loop: ELOOP(32)
link into a symlink loop: ELOOP(32)
unlink below a symlink loop: ELOOP(32)
"""

RR_DIVERGENCES = {
    "tmpfs": "wasi-rr still differs from the reference (reported): creating a file in a "
             "removed tmpfs directory (through an fd kept open) must be ENOENT",
}


def _invocation(mount: str, module: Path, host: Path) -> Invocation:
    if mount == "dir":
        host.mkdir()
        return Invocation(module, args=["/data"], dirs=[(host, "/data")])
    return Invocation(module, args=["/tmp"], tmpfs=["/tmp"])


@pytest.mark.parametrize("mount", ["dir", "tmpfs"])
def test_reference_corners(mount: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    outcome = run_reference(_invocation(mount, guest("fs_corners"), tmp_path / "host"), tmp_path)
    assert outcome.stdout.decode() == expected_output()
    assert (outcome.stderr, outcome.exit_code, outcome.trapped) == (b"", 0, False)


@pytest.mark.parametrize("mount", [
    pytest.param(m, marks=pytest.mark.xfail(reason=RR_DIVERGENCES[m], strict=True))
    if m in RR_DIVERGENCES else m
    for m in ("dir", "tmpfs")
])
def test_wasi_rr_corners(mount: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    outcome = run_wasi_rr(_invocation(mount, guest("fs_corners"), tmp_path / "host"), tmp_path)
    assert outcome.stdout.decode() == expected_output()
    assert (outcome.stderr, outcome.exit_code, outcome.trapped) == (b"", 0, False)
