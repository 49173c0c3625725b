"""WASIX fd subset (fd_dup, fd_dup2, fd_pipe) under wasi-rr, checked against POSIX.

wasmtime has no WASIX, so there is no reference run: the expected lines come from
POSIX dup/pipe semantics (DESIGN §3: dup'ed descriptors share one open file
description, offset and flags included).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guestrun import Invocation, run_wasi_rr

EXPECTED = """\
fd_dup: OK
dup is a new fd: 1
dup sees shared offset: 2
offset via original after reading 3 via dup: 5
append flag shared: 1
dup still works after closing original: 4
fd_dup bad fd: EBADF
fd_dup2 min 20: OK fd=20
fd_dup2 min 20 again: OK fd=21
fd_dup2 reuses freed: OK fd=20
fd_pipe: OK distinct=1
pipe write: 16
pipe read: 16 [through the pipe]
write to read end: -1 EBADF
lseek on a pipe: -1 ESPIPE(70)
read after writer closed (EOF): 0
"""


@pytest.mark.parametrize("mount", ["dir", "tmpfs"])
def test_wasix_fd_subset(mount: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    if mount == "dir":
        inv = Invocation(guest("wasix_fds"), args=["/data"], dirs=[(host, "/data")])
    else:
        inv = Invocation(guest("wasix_fds"), args=["/tmp"], tmpfs=["/tmp"])
    outcome = run_wasi_rr(inv, tmp_path)
    assert outcome.stdout.decode() == EXPECTED
    assert (outcome.stderr, outcome.exit_code, outcome.trapped) == (b"", 0, False)
