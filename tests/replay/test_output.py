"""``StdioTracker``: which fds are stdout/stderr, and what each write emits."""

from __future__ import annotations

import struct
from io import BytesIO

from wasi_rr.journal import Call
from wasi_rr.replay.output import StdioTracker

P1 = "wasi_snapshot_preview1"
X = "wasix_32v1"
NW = 0x100  # where nwritten / new fds are written


def _u32(v: int) -> bytes:
    return struct.pack("<I", v)


def _write(fd: int, *bufs: bytes, nwritten: int | None = None, errno: int = 0,
           name: str = "fd_write") -> tuple[Call, list[bytes]]:
    array = b"".join(struct.pack("<II", 0x1000 + 64 * i, len(b)) for i, b in enumerate(bufs))
    n = sum(map(len, bufs)) if nwritten is None else nwritten
    params = (fd, 0x2000, len(bufs), NW) if name == "fd_write" else (fd, 0x2000, len(bufs), 0, NW)
    inputs = [array, *bufs]
    writes = ((NW, _u32(n)),) if errno == 0 else ()
    return Call(0, P1, name, params, tuple(inputs), errno, writes), inputs


def _call(name: str, params: tuple[int, ...], *, new_fd: int | None = None,
          module: str = P1) -> tuple[Call, list[bytes]]:
    writes = ((NW, _u32(new_fd)),) if new_fd is not None else ()
    return Call(0, module, name, params, (), 0, writes), []


def _run(*calls: tuple[Call, list[bytes]]) -> tuple[bytes, bytes]:
    out, err = BytesIO(), BytesIO()
    t = StdioTracker(out, err)
    for entry, inputs in calls:
        t.observe(entry, inputs)
    return out.getvalue(), err.getvalue()


def test_writes_go_to_their_stream_cut_to_nwritten() -> None:
    assert _run(_write(1, b"ab", b"cd"), _write(2, b"err"), _write(1, b"xyz", nwritten=1),
                _write(1, b"lost", errno=29), _write(3, b"file")) == (b"abcdx", b"err")


def test_pwrite_to_stdout_counts() -> None:
    assert _run(_write(1, b"p", name="fd_pwrite")) == (b"p", b"")


def test_renumber_moves_stdout() -> None:
    out, _ = _run(_call("fd_renumber", (1, 7)), _write(1, b"not stdout"),
                  _write(7, b"moved"))
    assert out == b"moved"


def test_renumber_onto_stdout_replaces_it() -> None:
    assert _run(_call("fd_renumber", (2, 1)), _write(1, b"now stderr"),
                _write(2, b"closed")) == (b"", b"now stderr")


def test_close_and_reuse_by_open() -> None:
    out, _ = _run(_call("fd_close", (1,)),
                  _call("path_open", (3, 0, 0, 0, 0, 0, 0, 0, NW), new_fd=1),
                  _write(1, b"a file now"))
    assert out == b""


def test_dup_shares_the_description() -> None:
    out, err = _run(_call("fd_dup", (2, NW), new_fd=9, module=X), _write(9, b"dup"),
                    _call("fd_dup2", (1, 20, 0, NW), new_fd=20, module=X), _write(20, b"d2"))
    assert (out, err) == (b"d2", b"dup")


def test_none_stream_discards() -> None:
    t = StdioTracker(None, None)
    entry, inputs = _write(1, b"x")
    t.observe(entry, inputs)  # no error
