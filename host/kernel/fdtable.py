"""``FdTable``: fd numbers -> the open file descriptions they share.

``dup``/``fd_dup2``/``fd_renumber`` and ``fork`` make several fds (possibly in
several tables) point at *one* description (``fd.Description`` and its
classes), so they share the offset and flags. A description is released (host
fd closed, pipe end counted down) when the last fd referring to it is closed,
in whichever table.
"""

from __future__ import annotations

import heapq

from .fd import Description
from .rights import (
    DIR_INHERITING,
    DIR_RIGHTS,
    FILE_RIGHTS,
    STDIN_RIGHTS,
    STDOUT_RIGHTS,
    rights_for,
)
from .streams import PIPE_READ, PIPE_WRITE
from .wasi_types import Errno, WasiError

__all__ = [
    "DIR_INHERITING",
    "DIR_RIGHTS",
    "FILE_RIGHTS",
    "PIPE_READ",
    "PIPE_WRITE",
    "STDIN_RIGHTS",
    "STDOUT_RIGHTS",
    "Description",
    "FdTable",
    "rights_for",
]

class FdTable:
    """fd number -> Description for one process.

    New fds get the lowest free number (POSIX), found without scanning the
    table: every number at or above ``_top`` is free, and ``_holes`` is a
    min-heap of exactly the free numbers below it (closed fds, and the gap a
    ``fd_dup2`` minimum jumped over). Taking the lowest free fd and closing
    one are O(log n); finding the lowest free fd at or above a ``fd_dup2``
    minimum visits only the holes below that minimum.
    """

    __slots__ = ("_holes", "_top", "fds", "max_fds", "stdio")

    def __init__(self, max_fds: int = 1 << 20) -> None:
        self.fds: dict[int, Description] = {}
        self.stdio: dict[int, int] = {}
        """fd -> 1 (stdout console) or 2 (stderr console): kept up to date by every
        install/close, so a recorder asks about each write with one dict lookup."""
        self.max_fds = max_fds
        self._holes: list[int] = []
        self._top = 0

    def get(self, fd: int) -> Description:
        try:
            return self.fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF, f"fd {fd}") from None

    def lowest_free(self, minimum: int = 0) -> int:
        """The lowest free fd at or above ``minimum`` (MFILE past ``max_fds``)."""
        fd = self._find(minimum)[0]
        if fd >= self.max_fds:
            raise WasiError(Errno.MFILE)
        return fd

    def _find(self, minimum: int) -> tuple[int, int]:
        """(lowest free fd >= minimum, its index in ``_holes``, or -1 when it is
        at or above ``_top``)."""
        holes = self._holes
        if holes and holes[0] >= minimum:
            return holes[0], 0
        best, where = max(self._top, minimum), -1
        if not holes or minimum >= self._top:
            return best, where
        # A heap is not sorted, but a node is the smallest of its subtree: a
        # node at or above the best so far prunes its subtree, a node in
        # [minimum, best) is the new best (its subtree cannot beat it), and
        # only nodes below the minimum are looked beneath.
        n = len(holes)
        stack = [0]
        while stack:
            i = stack.pop()
            v = holes[i]
            if v >= best:
                continue
            if v >= minimum:
                best, where = v, i
                continue
            child = 2 * i + 1
            if child < n:
                stack.append(child)
                if child + 1 < n:
                    stack.append(child + 1)
        return best, where

    def _take(self, minimum: int) -> int:
        """Allocate the lowest free fd at or above ``minimum``."""
        fd, where = self._find(minimum)
        if fd >= self.max_fds:
            raise WasiError(Errno.MFILE)
        if where >= 0:
            _heap_remove(self._holes, where)
        else:
            self._raise_top(fd)
        return fd

    def _raise_top(self, fd: int) -> None:
        """``fd`` (at or above ``_top``) is taken: the numbers it skips become holes."""
        top = self._top
        if fd > top:
            # Every hole is below top and these are ascending: still a heap.
            self._holes.extend(range(top, fd))
        self._top = fd + 1

    def _claim(self, fd: int) -> None:
        """A free ``fd`` chosen by the caller is taken."""
        if fd >= self._top:
            self._raise_top(fd)
        else:
            # Only an explicit install into a hole gets here (the kernel never
            # does it: renumber targets are open, fresh tables fill upwards).
            _heap_remove(self._holes, self._holes.index(fd))

    def install(self, desc: Description, fd: int | None = None, minimum: int = 0) -> int:
        """Put ``desc`` at ``fd`` (closing what was there) or at the lowest free
        fd at or above ``minimum``."""
        fds = self.fds
        if fd is None:
            holes = self._holes
            if holes and holes[0] >= minimum and holes[0] < self.max_fds:
                fd = heapq.heappop(holes)  # the common case, inline: a closed fd
            elif not holes and minimum <= self._top < self.max_fds:
                fd = self._top  # no holes: the next fd up
                self._top = fd + 1
            else:
                fd = self._take(minimum)
        else:
            old = fds.get(fd)
            if old is desc:
                return fd
            if old is not None:
                self._drop(old)
            else:
                self._claim(fd)
        desc.refs += 1
        fds[fd] = desc
        slot = desc.stdio_slot
        if slot == 1 or slot == 2:
            self.stdio[fd] = slot
        elif self.stdio:
            self.stdio.pop(fd, None)
        return fd

    def _drop(self, desc: Description) -> None:
        desc.refs -= 1
        if desc.refs <= 0:
            desc.release()

    def close(self, fd: int) -> None:
        desc = self.fds.pop(fd, None)
        if desc is None:
            raise WasiError(Errno.BADF, f"fd {fd}")
        heapq.heappush(self._holes, fd)
        if self.stdio:
            self.stdio.pop(fd, None)
        self._drop(desc)

    def renumber(self, fd: int, to: int) -> None:
        desc = self.get(fd)
        self.get(to)  # wasmtime requires the target to be open: BADF otherwise
        if fd == to:
            return
        self.install(desc, to)
        self.close(fd)

    def fork(self) -> FdTable:
        """A new table with the same fds pointing at the same descriptions."""
        child = FdTable(self.max_fds)
        child.fds = dict(self.fds)
        child.stdio = dict(self.stdio)
        child._holes = list(self._holes)
        child._top = self._top
        for desc in child.fds.values():
            desc.refs += 1
        return child

    def close_all(self) -> None:
        for fd in list(self.fds):
            self.close(fd)


def _heap_remove(heap: list[int], i: int) -> None:
    """Remove ``heap[i]`` in O(log n): walk it up to the root, each parent on
    the way moving down one level (a parent is no larger than anything below
    it, so order holds), then pop the root."""
    while i:
        parent = (i - 1) >> 1
        heap[i] = heap[parent]
        i = parent
    heapq.heappop(heap)
