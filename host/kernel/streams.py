"""The stream kinds of fd: the stdio consoles and the ends of WASIX pipes.

Streams cannot seek (ESPIPE) and take no advice, sync, times or status flags
(EBADF): the defaults of ``Description``; they override only reading,
writing, metadata and poll readiness.
"""

from __future__ import annotations

import os
import select
from typing import TYPE_CHECKING, BinaryIO

from .fd import MAX_IO, Description, ready
from .hostdir import wasi_error_from_os
from .wasi_types import (
    Errno,
    Event,
    EventType,
    Filestat,
    Filetype,
    Subscription,
    WasiError,
)

if TYPE_CHECKING:
    from .inode import Inode, Pipe
    from .tree import FsTree

__all__ = [
    "PIPE_READ",
    "PIPE_WRITE",
    "PipeEnd",
    "StdinFile",
    "StdioFile",
    "StdoutFile",
    "wait_readable",
]

PIPE_READ = 1
PIPE_WRITE = 2

_DAY_NS = 86_400 * 10**9
_READ = EventType.FD_READ


def _fileno(stream: object) -> int | None:
    """The OS fd behind a stream, or None for in-memory streams."""
    try:
        return int(stream.fileno())  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        return None


def wait_readable(filenos: list[int], timeout: int | None) -> list[int]:
    """Wait up to ``timeout`` ns (None: for ever) until one of ``filenos`` is
    readable; those that are (all of them if they cannot be waited on)."""
    while True:
        # select() cannot take a u64 timeout: wait a day at a time.
        chunk = _DAY_NS if timeout is None else min(timeout, _DAY_NS)
        try:
            readable, _, _ = select.select(filenos, [], [], chunk / 1e9)
        except (OSError, ValueError):
            return filenos
        if readable or (timeout is not None and chunk == timeout):
            return readable
        if timeout is not None:
            timeout -= chunk


class StdioFile(Description):
    """A stdio console (fds 0-2 at start): the binary stream the kernel was
    given for its slot (``inode.stdio``) in ``streams``, the process's
    ``Stdio.streams`` (None: empty input / discarded output)."""

    __slots__ = ()

    def __init__(
        self, tree: FsTree, inode: Inode, rights: int, streams: list[BinaryIO | None]
    ) -> None:
        super().__init__(tree, inode, rights)
        self.streams = streams

    def stream(self) -> BinaryIO | None:
        streams, slot = self.streams, self.inode.stdio
        assert streams is not None and slot is not None
        return streams[slot]

    def filetype(self) -> Filetype:
        """What wasmtime reports for stdio: a character device when the host
        stream is a terminal, UNKNOWN otherwise (a file, a pipe, in memory).
        This is what lets a guest's ``isatty`` answer as it would natively."""
        fileno = _fileno(self.stream())
        try:
            if fileno is not None and os.isatty(fileno):
                return Filetype.CHARACTER_DEVICE
        except OSError:
            pass
        return Filetype.UNKNOWN

    def filestat(self) -> Filestat:
        # wasmtime reports an all-zero filestat for stdio (only the type is set).
        return Filestat(0, 0, self.filetype(), 0, 0, 0, 0, 0)


class StdinFile(StdioFile):
    """stdin. A stream with a real OS fd is read with ``os.read`` on that fd:
    Python-level buffering would hide data from poll_oneoff's ``select``, and
    a read blocks as a host read would."""

    __slots__ = ()

    def read(self, size: int) -> bytes:
        stream = self.stream()
        if stream is None or size == 0:
            return b""
        fileno = _fileno(stream)
        try:
            if fileno is not None:
                return os.read(fileno, min(size, MAX_IO))
            read1 = getattr(stream, "read1", None)
            out = read1(size) if read1 is not None else stream.read(size)
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        return bytes(out or b"")

    def poll(self, sub: Subscription) -> tuple[Event | None, int | None]:
        if sub.type != _READ:
            raise WasiError(Errno.BADF, "poll for writing on stdin")
        denied = self._pollable(sub)
        if denied is not None:
            return denied, None
        stream = self.stream()
        fileno = _fileno(stream) if stream is not None else None
        if fileno is None:
            return ready(sub, 1), None
        try:
            readable, _, _ = select.select([fileno], [], [], 0)
        except (OSError, ValueError):
            return ready(sub, 1), None
        if readable:
            return ready(sub, 1), None
        return None, fileno


class StdoutFile(StdioFile):
    """stdout or stderr. Every write is flushed, so the guest's stdout and
    stderr interleave as it issued them. Host errors are the host's errno (a
    reader that has gone: EPIPE; a full disk: ENOSPC)."""

    __slots__ = ()

    def write(self, data: bytes) -> int:
        stream = self.stream()
        if stream is None:
            return len(data)
        try:
            stream.write(data)
            stream.flush()
        except OSError as exc:
            raise wasi_error_from_os(exc) from None
        return len(data)

    def poll(self, sub: Subscription) -> tuple[Event | None, int | None]:
        if sub.type == _READ:
            raise WasiError(Errno.BADF, "poll for reading on stdout/stderr")
        denied = self._pollable(sub)
        # Always writable; nbytes 1 (an unknown amount) like wasmtime.
        return denied or ready(sub, 1), None


class PipeEnd(Description):
    """One end of an in-memory pipe (``inode.pipe``); ``pipe_end`` says which.

    Reading an empty pipe is EOF when every write end is closed, else EAGAIN
    (a single-threaded host cannot block waiting for a writer); writing with
    no reader left is EPIPE, into a full pipe a short write or EAGAIN."""

    __slots__ = ()

    def __init__(self, tree: FsTree, inode: Inode, rights: int, end: int) -> None:
        super().__init__(tree, inode, rights)
        # The end is not derived from the rights, which the guest may narrow.
        self.pipe_end = end
        pipe = self.pipe
        if end == PIPE_READ:
            pipe.readers += 1
        elif end == PIPE_WRITE:
            pipe.writers += 1

    @property
    def pipe(self) -> Pipe:
        pipe = self.inode.pipe
        assert pipe is not None
        return pipe

    def release(self) -> None:
        pipe = self.pipe
        if self.pipe_end == PIPE_READ:
            pipe.readers -= 1
        elif self.pipe_end == PIPE_WRITE:
            pipe.writers -= 1

    def read(self, size: int) -> bytes:
        pipe = self.pipe
        buf = pipe.buffer
        if buf:
            out = bytes(buf[:size])
            del buf[:size]
            return out
        if pipe.writers == 0 or size == 0:
            return b""
        raise WasiError(Errno.AGAIN, "pipe empty")

    def write(self, data: bytes) -> int:
        pipe = self.pipe
        if pipe.readers == 0:
            raise WasiError(Errno.PIPE)
        room = pipe.capacity - len(pipe.buffer)
        if room <= 0:
            if not data:
                return 0
            raise WasiError(Errno.AGAIN, "pipe full")
        chunk = data[:room]
        pipe.buffer += chunk
        return len(chunk)

    def poll(self, sub: Subscription) -> tuple[Event | None, int | None]:
        """Readable with data or when every writer is gone (hangup); writable
        with room or when every reader is gone (hangup)."""
        denied = self._pollable(sub)
        if denied is not None:
            return denied, None
        pipe = self.pipe
        if sub.type == _READ:
            if pipe.buffer:
                return ready(sub, len(pipe.buffer)), None
            return (ready(sub, 0, hangup=True) if pipe.writers == 0 else None), None
        if pipe.readers == 0:
            return ready(sub, 0, hangup=True), None
        room = pipe.capacity - len(pipe.buffer)
        return (ready(sub, room) if room > 0 else None), None
