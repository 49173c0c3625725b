"""Fork semantics, property-tested: a forked child's fd N behaves exactly like
``dup(N)`` in a single process (shared descriptions, shared filesystem).

The same random program runs twice: once on a real fork family (parent and
child kernels), once on one kernel where the child's fds are dups of the
parent's. Every observable answer (data, offsets, sizes, errnos) must match.
Fds are named by per-process handle lists so that fd numbers (which differ
between the two set-ups) are never compared.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_helpers import ALL

from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.sources import SeededRandom, VirtualClock
from wasi_rr.host.kernel.wasi_types import OFlags, WasiError
from wasi_rr.host.kernel.wasifs import MountSpec, WasiFs

NAMES = ["a", "b", "c"]
op_st = st.tuples(
    st.integers(0, 1),  # process: 0 parent, 1 child
    st.sampled_from(
        ["open", "write", "read", "seek", "close", "pipe", "dup", "unlink", "size", "flags"]
    ),
    st.integers(0, 10),  # handle index
    st.sampled_from(NAMES),
    st.binary(max_size=8),
    st.integers(0, 12),
)


class Family:
    """Two processes' views: (kernel, handle list) per process."""

    def __init__(
        self,
        kernels: tuple[WasiKernel, WasiKernel],
        handles: tuple[list[int], list[int]],
        dirfds: tuple[int, int] = (3, 3),
    ) -> None:
        self.kernels = kernels
        self.handles = handles
        self.dirfds = dirfds

    def run(self, op: tuple[Any, ...]) -> Any:
        proc, name, h, fname, data, num = op
        k, hs = self.kernels[proc], self.handles[proc]
        fd = hs[h % len(hs)] if hs else -1
        try:
            if name == "open":
                hs.append(k.path_open(self.dirfd(proc), 0, fname, OFlags.CREAT, ALL, ALL, 0))
                return "opened"
            if name == "write":
                return k.fd_write(fd, data)
            if name == "read":
                return k.fd_read(fd, num)
            if name == "seek":
                return k.fd_seek(fd, num, 0)
            if name == "close":
                k.fd_close(fd)
                hs.remove(fd)
                return "closed"
            if name == "pipe":
                hs.extend(k.fd_pipe())
                return "pipe"
            if name == "dup":
                hs.append(k.fd_dup(fd))
                return "dup"
            if name == "unlink":
                return k.path_unlink_file(self.dirfd(proc), fname)
            if name == "size":
                return k.fd_filestat_get(fd).size
            if name == "flags":
                k.fd_fdstat_set_flags(fd, num & 5)
                return k.fd_fdstat_get(fd).flags
        except WasiError as err:
            return err.errno
        raise AssertionError(op)

    def offsets(self) -> list[Any]:
        """fd_tell of every handle of both processes (errno for pipes/stdio)."""
        out: list[Any] = []
        for k, hs in zip(self.kernels, self.handles, strict=True):
            for fd in hs:
                try:
                    out.append(k.fd_tell(fd))
                except WasiError as err:
                    out.append(err.errno)
        return out

    def dirfd(self, proc: int) -> int:
        return self.dirfds[proc]  # the tmpfs preopen (or, in the model child, its dup)


def kernel() -> WasiKernel:
    return WasiKernel(
        fs=WasiFs([MountSpec.tmpfs("/tmp")]), clock=VirtualClock(), random=SeededRandom(0)
    )


@settings(max_examples=80, deadline=None)
@given(before=st.lists(op_st, max_size=10), after=st.lists(op_st, max_size=30))
def test_fork_is_dup(before: list[Any], after: list[Any]) -> None:
    # real fork family
    parent = kernel()
    real = Family((parent, parent), ([0, 1, 2], [0, 1, 2]))
    # model: one process
    single = kernel()
    model = Family((single, single), ([0, 1, 2], [0, 1, 2]))
    # the parent always has an open file with data when it forks
    prologue = [(0, "open", 0, "a", b"", 0), (0, "write", 3, "a", b"0123456789", 0)]
    for op in prologue + before:
        op = (0, *op[1:])  # everything before the fork happens in the parent
        assert real.run(op) == model.run(op)
    child = parent.fork()
    real = Family((parent, child), (real.handles[0], list(real.handles[0])))
    model = Family(
        (single, single),
        (model.handles[0], [single.fd_dup(fd) for fd in model.handles[0]]),
        (3, single.fd_dup(3)),
    )
    for op in after:
        assert real.run(op) == model.run(op), op
        assert real.offsets() == model.offsets(), op
