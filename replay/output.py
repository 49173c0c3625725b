"""Reproducing the guest's stdout/stderr during a replay.

The journal has no separate output record: the output *is* the successful
``fd_write``/``fd_pwrite`` calls on a descriptor that refers to the process's
stdout or stderr description. Replay rebuilds it from two halves of each call:

- the bytes come from the *replaying guest's own* iovec buffers (the recorder
  may have stored a large input as a digest, but the guest passes the real
  bytes again, and they were checked against the journal before we get here);
- how many of them went out is the recorded answer (``nwritten`` written at the
  ``nwritten`` pointer; a short write emits only its prefix), and only when the
  recorded errno is ``SUCCESS``.

Which fds refer to stdout/stderr changes when the guest renumbers, closes or
duplicates them (``fd_renumber(1, 7)`` moves stdout to 7; WASIX ``fd_dup``
shares it), so the tracker follows those calls, using recorded results for the
new fd numbers. Anything else that hands out an fd (``path_open``,
``fd_pipe``, ``sock_accept``) makes that number a non-stdio fd.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import BinaryIO

from wasi_rr.journal import SyscallEntry

__all__ = ["StdioTracker", "TRACKED_CALLS"]

_U32 = struct.Struct("<I")
_IOVEC = struct.Struct("<II")
_FD_OUT_PARAM = {"path_open": 8, "fd_dup": 1, "fd_dup2": 3, "sock_accept": 2}
"""Calls creating one fd: index of the param pointing at the new fd number."""
TRACKED_CALLS = frozenset({"fd_write", "fd_pwrite", "fd_renumber", "fd_close", "fd_pipe",
                           *_FD_OUT_PARAM})
"""Every call ``StdioTracker.observe`` acts on (others may skip it)."""


class StdioTracker:
    """Maps guest fds to the stdout/stderr streams and writes replayed output."""

    def __init__(self, stdout: BinaryIO | None, stderr: BinaryIO | None) -> None:
        self._streams: dict[int, BinaryIO | None] = {1: stdout, 2: stderr}
        self._fds: dict[int, int] = {1: 1, 2: 2}
        """guest fd -> 1 (stdout description) or 2 (stderr description)."""
        self.version = 0
        """Bumped whenever the stdio fds may have changed (replay's lean callbacks
        cache which fds are not stdout/stderr until then)."""

    @property
    def stdio_fds(self) -> Mapping[int, int]:
        """The guest fds referring to stdout/stderr now (live view, read-only use):
        a successful ``fd_write`` on any other fd is a no-op for ``observe``."""
        return self._fds

    def observe(self, entry: SyscallEntry, inputs: Sequence[bytes]) -> None:
        """Account for one replayed call (``inputs`` are the guest's, already
        checked against ``entry``)."""
        name = entry.name
        if entry.errno != 0:
            return
        p = entry.params
        if name not in ("fd_write", "fd_pwrite"):
            self.version += 1
        if name in ("fd_write", "fd_pwrite"):
            target = self._fds.get(p[0])
            if target is None:
                return
            nwritten = _recorded_u32(entry, p[3] if name == "fd_write" else p[4])
            if nwritten:
                self._emit(target, _gather(inputs)[:nwritten])
        elif name == "fd_renumber":
            src = self._fds.pop(p[0], None)
            self._fds.pop(p[1], None)
            if src is not None:
                self._fds[p[1]] = src
        elif name == "fd_close":
            self._fds.pop(p[0], None)
        elif name in _FD_OUT_PARAM:
            new = _recorded_u32(entry, p[_FD_OUT_PARAM[name]])
            if new is None:
                return
            self._fds.pop(new, None)
            if name in ("fd_dup", "fd_dup2") and p[0] in self._fds:
                self._fds[new] = self._fds[p[0]]
        elif name == "fd_pipe":
            for ptr in p[:2]:
                fd = _recorded_u32(entry, ptr)
                if fd is not None:
                    self._fds.pop(fd, None)

    def _emit(self, target: int, data: bytes) -> None:
        stream = self._streams.get(target)
        if stream is None:
            return
        try:
            stream.write(data)
            if target == 2:
                stream.flush()
        except OSError:
            # e.g. ``replay | head`` closed the pipe: the guest must still see
            # the recorded answers, so the replay goes on without this stream
            self._streams[target] = None

    def flush(self) -> None:
        for stream in self._streams.values():
            if stream is not None:
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass


def _recorded_u32(entry: SyscallEntry, ptr: int) -> int | None:
    for addr, data in entry.writes:
        if addr == ptr and len(data) == 4:
            return int(_U32.unpack(data)[0])
    return None


def _gather(inputs: Sequence[bytes]) -> bytes:
    """The concatenated buffers of an ``IN_IOVS`` input list (array first)."""
    if not inputs:
        return b""
    count = len(inputs[0]) // _IOVEC.size
    return b"".join(inputs[1:1 + count])
