"""The guest's stdout/stderr during a replay.

The recorder marks every call whose bytes reached stdout or stderr (the
record's ``flags``, from the live kernel's view of its fds, so renumbered and
dup'ed stdio count and a pipe moved onto fd 1 does not). What went out is the
data of the call's input buffers (after the iovec array), cut to the count the
call answered (``nwritten``: a short write emits only its prefix). Replay
prints exactly that, so no fd bookkeeping is needed here. The wasm replayer
appends such bytes to an output area that ``flush_area`` empties.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Final

from wasi_rr.journal.records import FLAG_STDERR, FLAG_STDOUT

__all__ = ["Output"]

_U32: Final = struct.Struct("<I")
STREAM_BIT: Final = 0x8000_0000
"""In the output area, a chunk header ``u32 len | STREAM_BIT`` means stderr."""


class Output:
    """Writes replayed output to the given streams, in call order."""

    def __init__(self, stdout: BinaryIO | None, stderr: BinaryIO | None) -> None:
        self.streams = {FLAG_STDOUT: stdout, FLAG_STDERR: stderr}

    def emit(self, flags: int, data: bytes) -> None:
        stream = self.streams.get(flags)
        if stream is None or not data:
            return
        try:
            stream.write(data)
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe on our side must not change the replay

    def flush_area(self, area: memoryview | bytes, used: int) -> None:
        """Print the chunks the wasm replayer left in its output area."""
        pos = 0
        while pos + 4 <= used:
            head = _U32.unpack_from(area, pos)[0]
            length = head & ~STREAM_BIT
            start = pos + 4
            self.emit(FLAG_STDERR if head & STREAM_BIT else FLAG_STDOUT,
                      bytes(area[start:start + length]))
            pos = start + length

    def flush(self) -> None:
        for stream in self.streams.values():
            if stream is not None:
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
