"""``WasiKernel``: every wasi_snapshot_preview1 syscall (and the WASIX fd subset)
as a plain-value Python method.

Sans-IO with respect to wasm: the adapter decodes guest memory and calls these
methods with ints/str/bytes; they return plain values or raise
``WasiError(errno)``.  Time and randomness come only from the injected
``Clock`` and ``RandomSource``.  See docs/wasifs.md for the semantic choices.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator, Mapping, Sequence
from typing import BinaryIO, NoReturn

from .fdtable import (
    PIPE_READ,
    PIPE_WRITE,
    Description,
    rights_for,
)
from .hostdir import MountMode, wasi_error_from_os
from .inode import Inode, Kind, Pipe
from .sources import Clock, RandomSource, SystemClock, SystemRandom
from .tree import Resolved
from .wasi_types import (
    Advice,
    Dirent,
    Errno,
    Event,
    EventRwFlags,
    EventType,
    Fdstat,
    FdFlags,
    Filestat,
    Filetype,
    FstFlags,
    LookupFlags,
    OFlags,
    Prestat,
    ProcExit,
    Rights,
    Subscription,
    SubclockFlags,
    WasiError,
)
from .wasifs import WasiFs

__all__ = ["WasiKernel"]

# Plain ints: IntFlag arithmetic is far too slow for the hot paths.
_R_READ = int(Rights.FD_READ)
_R_WRITE = int(Rights.FD_WRITE)
_R_SEEK = int(Rights.FD_SEEK)
_R_TELL = int(Rights.FD_TELL)
_R_DATASYNC = int(Rights.FD_DATASYNC)
_R_SYNC = int(Rights.FD_SYNC)
_R_ADVISE = int(Rights.FD_ADVISE)
_R_ALLOCATE = int(Rights.FD_ALLOCATE)
_R_FDSTAT_SET_FLAGS = int(Rights.FD_FDSTAT_SET_FLAGS)
_R_FILESTAT_GET = int(Rights.FD_FILESTAT_GET)
_R_FILESTAT_SET_SIZE = int(Rights.FD_FILESTAT_SET_SIZE)
_R_FILESTAT_SET_TIMES = int(Rights.FD_FILESTAT_SET_TIMES)
_R_READDIR = int(Rights.FD_READDIR)
_R_POLL = int(Rights.POLL_FD_READWRITE)
_R_PATH_CREATE_DIRECTORY = int(Rights.PATH_CREATE_DIRECTORY)
_R_PATH_CREATE_FILE = int(Rights.PATH_CREATE_FILE)
_R_PATH_LINK_SOURCE = int(Rights.PATH_LINK_SOURCE)
_R_PATH_LINK_TARGET = int(Rights.PATH_LINK_TARGET)
_R_PATH_OPEN = int(Rights.PATH_OPEN)
_R_PATH_READLINK = int(Rights.PATH_READLINK)
_R_PATH_RENAME_SOURCE = int(Rights.PATH_RENAME_SOURCE)
_R_PATH_RENAME_TARGET = int(Rights.PATH_RENAME_TARGET)
_R_PATH_FILESTAT_GET = int(Rights.PATH_FILESTAT_GET)
_R_PATH_FILESTAT_SET_SIZE = int(Rights.PATH_FILESTAT_SET_SIZE)
_R_PATH_FILESTAT_SET_TIMES = int(Rights.PATH_FILESTAT_SET_TIMES)
_R_PATH_SYMLINK = int(Rights.PATH_SYMLINK)
_R_PATH_REMOVE_DIRECTORY = int(Rights.PATH_REMOVE_DIRECTORY)
_R_PATH_UNLINK_FILE = int(Rights.PATH_UNLINK_FILE)
_R_MODIFY_FILE = _R_WRITE | _R_ALLOCATE | _R_FILESTAT_SET_SIZE
_R_OPEN_FOR_WRITE = _R_MODIFY_FILE | _R_DATASYNC  # what wasi-libc's F_GETFL calls writing
_IMPLIED_SHIFT = 32
"""Write rights that O_CREAT/O_TRUNC granted without being asked for are also kept
``_IMPLIED_SHIFT`` bits higher in ``rights_base`` (WASI rights use bits 0-28), so
fd_fdstat_get can report only what the guest asked for (wasi-testsuite compares
the rights of a created fd with those of the same file opened plainly) while the
fd still writes, as wasmtime's does."""

_F_APPEND = int(FdFlags.APPEND)
_F_ALL = int(FdFlags.APPEND | FdFlags.DSYNC | FdFlags.NONBLOCK | FdFlags.RSYNC | FdFlags.SYNC)
_F_SYNCS = int(FdFlags.DSYNC | FdFlags.RSYNC | FdFlags.SYNC)
"""Synchronized-I/O fdflags, unsupported as in wasmtime (path_open: ENOTSUP)."""

_O_CREAT = int(OFlags.CREAT)
_O_DIRECTORY = int(OFlags.DIRECTORY)
_O_EXCL = int(OFlags.EXCL)
_O_TRUNC = int(OFlags.TRUNC)

_FOLLOW = int(LookupFlags.SYMLINK_FOLLOW)

_DIR = Kind.DIRECTORY
_FILE = Kind.REGULAR_FILE
_PIPE = Kind.PIPE
_CHR = Kind.CHARACTER_DEVICE

_PIPE_READ_RIGHTS = _R_READ | _R_FDSTAT_SET_FLAGS | _R_FILESTAT_GET | _R_POLL
_PIPE_WRITE_RIGHTS = _R_WRITE | _R_FDSTAT_SET_FLAGS | _R_FILESTAT_GET | _R_POLL

_U64 = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1
"""Largest file offset or size the host can represent (off_t)."""
_MAX_IO = 64 << 20
"""Largest single host read: a short read is legal and a guest's 4 GiB iovec
must not make the host allocate 4 GiB up front."""
_DAY_NS = 86_400 * 10**9


def _to_bytes(item: str | bytes) -> bytes:
    return item.encode("utf-8", "surrogateescape") if isinstance(item, str) else bytes(item)


def _fileno(stream: object) -> int | None:
    """The OS fd behind a stream, or None for in-memory streams."""
    try:
        return int(stream.fileno())  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        return None


def _check_fst_flags(fst_flags: int) -> tuple[bool, bool, bool, bool]:
    atim, atim_now = bool(fst_flags & FstFlags.ATIM), bool(fst_flags & FstFlags.ATIM_NOW)
    mtim, mtim_now = bool(fst_flags & FstFlags.MTIM), bool(fst_flags & FstFlags.MTIM_NOW)
    if (atim and atim_now) or (mtim and mtim_now) or fst_flags & ~0xF:
        raise WasiError(Errno.INVAL, "conflicting fst_flags")
    return atim, atim_now, mtim, mtim_now


def _visible_rights(base: int) -> int:
    """The rights an fd reports: its base rights minus the implied write rights."""
    return base & ~(base >> _IMPLIED_SHIFT) & ((1 << _IMPLIED_SHIFT) - 1)


class WasiKernel:
    """The WASI kernel of one guest process.

    ``args``: argv (str or bytes; argv[0] is the program name).
    ``env``: a mapping NAME -> VALUE or a sequence of ``"NAME=VALUE"``.
    ``fs``: the process's ``WasiFs`` (default: no preopens).
    ``clock``/``random``: injected sources (default: the host's).
    ``stdin``/``stdout``/``stderr``: binary streams behind fds 0-2; None means
    empty input / discarded output (the caller picks real defaults).
    """

    def __init__(
        self,
        args: Sequence[str | bytes] = (),
        env: Mapping[str, str] | Sequence[str | bytes] = (),
        fs: WasiFs | None = None,
        clock: Clock | None = None,
        random: RandomSource | None = None,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
        stderr: BinaryIO | None = None,
    ) -> None:
        self.args: list[bytes] = [_to_bytes(a) for a in args]
        if isinstance(env, Mapping):
            self.env: list[bytes] = [_to_bytes(f"{k}={v}") for k, v in env.items()]
        else:
            self.env = [_to_bytes(e) for e in env]
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.random: RandomSource = random if random is not None else SystemRandom()
        self.fs = fs if fs is not None else WasiFs()
        if not self.fs.clock_injected:
            self.fs.tree.clock = self.clock
        self.fs.attach_stdio(stdin, stdout, stderr)
        self._tree = self.fs.tree
        self._fdt = self.fs.fds
        self._fds = self.fs.fds.fds
        self._now = self.clock.now
        self._max_file = self.fs.tree.max_file_size

    def fork(self) -> WasiKernel:
        """The kernel of a forked child: same args, env, sources and stdio
        streams, the filesystem tree shared, the fd table copied with its
        descriptions shared (``WasiFs.fork``)."""
        child = WasiKernel.__new__(WasiKernel)
        child.args = list(self.args)
        child.env = list(self.env)
        child.clock = self.clock
        child.random = self.random
        child.fs = self.fs.fork()
        child._tree = child.fs.tree
        child._fdt = child.fs.fds
        child._fds = child.fs.fds.fds
        child._now = child.clock.now
        child._max_file = self._max_file
        return child

    # -- helpers ----------------------------------------------------------

    def _desc(self, fd: int) -> Description:
        try:
            return self._fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF, f"fd {fd}") from None

    def _dir(self, fd: int, right: int) -> Description:
        desc = self._desc(fd)
        if desc.inode.kind is not _DIR:
            # wasmtime: a path operation relative to a non-directory fd is EBADF
            # (path_open alone says ENOTDIR, see there).
            raise WasiError(Errno.BADF, "not a directory fd")
        if not desc.rights_base & right:
            raise WasiError(Errno.NOTCAPABLE)
        return desc

    @staticmethod
    def _need(desc: Description, right: int) -> None:
        if not desc.rights_base & right:
            raise WasiError(Errno.NOTCAPABLE)

    def _stream(self, slot: int) -> BinaryIO | None:
        return self.fs.stdio.streams[slot]

    def _size(self, desc: Description) -> int:
        node = desc.inode
        if node.data is not None:
            return len(node.data)
        if desc.host_fd >= 0:
            try:
                return os.fstat(desc.host_fd).st_size
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
        return 0

    # -- args, env, clocks, random, process --------------------------------

    def args_get(self) -> list[bytes]:
        return list(self.args)

    def environ_get(self) -> list[bytes]:
        return list(self.env)

    def clock_res_get(self, clock_id: int) -> int:
        return self.clock.resolution(clock_id)

    def clock_time_get(self, clock_id: int, precision: int) -> int:
        return self._now(clock_id)

    def random_get(self, length: int) -> bytes:
        return self.random.bytes(length)

    def sched_yield(self) -> None:
        return None

    def proc_exit(self, code: int) -> NoReturn:
        raise ProcExit(code)

    def proc_raise(self, sig: int) -> None:
        # Delivering signals to a wasm guest has no meaning in preview1 (wasmtime
        # does not implement it either).
        raise WasiError(Errno.NOSYS, "proc_raise is not supported")

    # -- sockets: this host never hands out sockets ------------------------

    def _not_socket(self, fd: int) -> NoReturn:
        self._desc(fd)
        raise WasiError(Errno.NOTSOCK)

    def sock_accept(self, fd: int, flags: int) -> int:
        self._not_socket(fd)

    def sock_recv(self, fd: int, size: int, ri_flags: int) -> tuple[bytes, int]:
        self._not_socket(fd)

    def sock_send(self, fd: int, data: bytes, si_flags: int) -> int:
        self._not_socket(fd)

    def sock_shutdown(self, fd: int, how: int) -> None:
        self._not_socket(fd)

    # -- reading and writing ----------------------------------------------

    def fd_read(self, fd: int, size: int) -> bytes:
        try:
            desc = self._fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF) from None
        if not desc.rights_base & _R_READ:
            # Not open for reading: wasmtime (and POSIX) answer EBADF.
            raise WasiError(Errno.BADF, "not open for reading")
        node = desc.inode
        data = node.data
        if data is not None:
            off = desc.offset
            out = bytes(data[off : off + size])
            desc.offset = off + len(out)
            return out
        return self._read_slow(desc, node, size)

    def _read_slow(self, desc: Description, node: Inode, size: int) -> bytes:
        kind = node.kind
        if desc.host_fd >= 0:
            try:
                out = os.pread(desc.host_fd, min(size, _MAX_IO), desc.offset)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            desc.offset += len(out)
            return out
        if kind is _PIPE:
            pipe = node.pipe
            assert pipe is not None
            buf = pipe.buffer
            if buf:
                out = bytes(buf[:size])
                del buf[:size]
                return out
            if pipe.writers == 0 or size == 0:
                return b""
            raise WasiError(Errno.AGAIN, "pipe empty")
        if kind is _CHR:
            if node.stdio != 0:
                raise WasiError(Errno.BADF, "stdout/stderr are not readable")
            stream = self._stream(0)
            if stream is None or size == 0:
                return b""
            fileno = _fileno(stream)
            try:
                if fileno is not None:
                    # Read the OS fd directly: Python-level buffering would hide
                    # data from poll_oneoff's select().
                    return os.read(fileno, min(size, _MAX_IO))
                read1 = getattr(stream, "read1", None)
                out = read1(size) if read1 is not None else stream.read(size)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            return bytes(out or b"")
        raise WasiError(Errno.BADF)

    def fd_pread(self, fd: int, size: int, offset: int) -> bytes:
        desc = self._desc(fd)
        if not desc.rights_base & _R_READ:
            raise WasiError(Errno.BADF, "not open for reading")
        node = desc.inode
        if offset > _I64_MAX:
            raise WasiError(Errno.INVAL, "offset out of range")
        if node.data is not None:
            return bytes(node.data[offset : offset + size])
        if desc.host_fd >= 0:
            try:
                return os.pread(desc.host_fd, min(size, _MAX_IO), offset)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
        if node.kind is _DIR:
            raise WasiError(Errno.BADF)
        raise WasiError(Errno.SPIPE)

    def fd_write(self, fd: int, data: bytes) -> int:
        try:
            desc = self._fds[fd]
        except KeyError:
            raise WasiError(Errno.BADF) from None
        if not desc.rights_base & _R_WRITE:
            raise WasiError(Errno.BADF, "not open for writing")
        node = desc.inode
        buf = node.data
        if buf is not None:
            n = len(data)
            off = len(buf) if desc.flags & _F_APPEND else desc.offset
            blen = len(buf)
            if off + n > blen:
                if not n:
                    return 0  # an empty write past the end does not extend the file
                if off + n > self._max_file:
                    raise WasiError(Errno.FBIG, "in-memory file size limit")
                if off > blen:
                    buf.extend(bytes(off - blen))
            buf[off : off + n] = data
            desc.offset = off + n
            node.mtim = node.ctim = self._now(0)
            return n
        return self._write_slow(desc, node, data)

    def _write_slow(self, desc: Description, node: Inode, data: bytes) -> int:
        kind = node.kind
        if kind is _CHR:
            slot = node.stdio
            if slot == 0:
                raise WasiError(Errno.BADF, "stdin is not writable")
            stream = self._stream(slot)  # type: ignore[arg-type]
            if stream is None:
                return len(data)
            try:
                stream.write(data)
                # Flush every write so the guest's stdout/stderr interleave as
                # the guest issued them.
                stream.flush()
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            return len(data)
        if desc.host_fd >= 0:
            try:
                off = os.fstat(desc.host_fd).st_size if desc.flags & _F_APPEND else desc.offset
                n = os.pwrite(desc.host_fd, data, off)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            desc.offset = off + n
            return n
        if kind is _PIPE:
            pipe = node.pipe
            assert pipe is not None
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
        if kind is _DIR:
            raise WasiError(Errno.ISDIR)
        raise WasiError(Errno.BADF)

    def fd_pwrite(self, fd: int, data: bytes, offset: int) -> int:
        desc = self._desc(fd)
        if not desc.rights_base & _R_WRITE:
            raise WasiError(Errno.BADF, "not open for writing")
        node = desc.inode
        buf = node.data
        append = desc.flags & _F_APPEND
        if offset > _I64_MAX:
            raise WasiError(Errno.INVAL, "offset out of range")
        if buf is not None:
            # On an APPEND fd, pwrite appends whatever the offset (what Linux
            # does, so what wasmtime shows); the fd offset never moves.
            blen = len(buf)
            if not data:
                return 0
            if append:
                offset = blen
            if offset + len(data) > self._max_file:
                raise WasiError(Errno.FBIG, "in-memory file size limit")
            if offset > blen:
                buf.extend(bytes(offset - blen))
            buf[offset : offset + len(data)] = data
            node.mtim = node.ctim = self._now(0)
            return len(data)
        if desc.host_fd >= 0:
            try:
                if append:
                    offset = os.fstat(desc.host_fd).st_size
                return os.pwrite(desc.host_fd, data, offset)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
        if node.kind is _DIR:
            raise WasiError(Errno.BADF)
        raise WasiError(Errno.SPIPE)

    def fd_seek(self, fd: int, offset: int, whence: int) -> int:
        desc = self._desc(fd)
        kind = desc.inode.kind
        if kind is _PIPE or kind is _CHR:
            raise WasiError(Errno.SPIPE)
        if kind is _DIR:
            raise WasiError(Errno.BADF, "seek on a directory")
        if whence == 1 and offset == 0:
            if not desc.rights_base & (_R_SEEK | _R_TELL):
                raise WasiError(Errno.NOTCAPABLE)
        else:
            self._need(desc, _R_SEEK)
        if whence == 0:
            new = offset
        elif whence == 1:
            new = desc.offset + offset
        elif whence == 2:
            new = self._size(desc) + offset
        else:
            raise WasiError(Errno.INVAL, "bad whence")
        if new < 0 or new > _I64_MAX:
            raise WasiError(Errno.INVAL, "offset out of range")
        desc.offset = new
        return new

    def fd_tell(self, fd: int) -> int:
        desc = self._desc(fd)
        kind = desc.inode.kind
        if kind is _PIPE or kind is _CHR:
            raise WasiError(Errno.SPIPE)
        if kind is _DIR:
            raise WasiError(Errno.BADF, "tell on a directory")
        self._need(desc, _R_TELL)
        return desc.offset

    # -- fd management ----------------------------------------------------

    def fd_close(self, fd: int) -> None:
        self._fdt.close(fd)

    def fd_renumber(self, fd: int, to: int) -> None:
        self._fdt.renumber(fd, to)

    def fd_dup(self, fd: int) -> int:
        return self._fdt.install(self._desc(fd))

    def fd_dup2(self, fd: int, min_result_fd: int, cloexec: int) -> int:
        # There is no exec in WASI, so close-on-exec has nothing to act on.
        return self._fdt.install(self._desc(fd), minimum=min_result_fd)

    def fd_pipe(self) -> tuple[int, int]:
        node = self._tree.new_inode(_PIPE, 0)
        node.pipe = Pipe()
        rd = Description(node, _PIPE_READ_RIGHTS, 0, pipe_end=PIPE_READ)
        wr = Description(node, _PIPE_WRITE_RIGHTS, 0, pipe_end=PIPE_WRITE)
        r = self._fdt.install(rd)
        try:
            w = self._fdt.install(wr)
        except WasiError:
            self._fdt.close(r)
            wr.release()
            raise
        return r, w

    def _stdio_filetype(self, slot: int) -> Filetype:
        """What wasmtime reports for stdio: a character device when the host
        stream is a terminal, UNKNOWN otherwise (a file, a pipe, in memory).
        This is what lets a guest's ``isatty`` answer as it would natively."""
        fileno = _fileno(self._stream(slot))
        try:
            if fileno is not None and os.isatty(fileno):
                return Filetype.CHARACTER_DEVICE
        except OSError:
            pass
        return Filetype.UNKNOWN

    def fd_fdstat_get(self, fd: int) -> Fdstat:
        desc = self._desc(fd)
        node = desc.inode
        return Fdstat(
            node.kind.filetype if node.stdio is None else self._stdio_filetype(node.stdio),
            FdFlags(desc.flags),
            Rights(_visible_rights(desc.rights_base)),
            Rights(desc.rights_inheriting),
        )

    def fd_fdstat_set_flags(self, fd: int, flags: int) -> None:
        desc = self._desc(fd)
        if desc.inode.kind is not _FILE:
            # wasmtime: only regular files take status flags (stdio, directories: EBADF).
            raise WasiError(Errno.BADF, "fdflags can only be set on regular files")
        self._need(desc, _R_FDSTAT_SET_FLAGS)
        if flags & ~_F_ALL or flags & _F_SYNCS:
            # wasmtime: DSYNC/RSYNC/SYNC cannot be set (EINVAL, flags unchanged)
            raise WasiError(Errno.INVAL, "unknown or synchronized I/O fdflags")
        desc.flags = flags

    def fd_fdstat_set_rights(self, fd: int, rights_base: int, rights_inheriting: int) -> None:
        desc = self._desc(fd)
        if rights_base & ~_visible_rights(desc.rights_base) or rights_inheriting & ~desc.rights_inheriting:
            raise WasiError(Errno.NOTCAPABLE, "rights can only shrink")
        desc.rights_base = rights_base
        desc.rights_inheriting = rights_inheriting

    def fd_prestat_get(self, fd: int) -> Prestat:
        desc = self._desc(fd)
        if desc.preopen is None:
            raise WasiError(Errno.BADF, "not a preopen")
        return Prestat(desc.preopen.encode("utf-8", "surrogateescape"))

    def fd_prestat_dir_name(self, fd: int) -> bytes:
        return self.fd_prestat_get(fd).name

    def fd_advise(self, fd: int, offset: int, length: int, advice: int) -> None:
        desc = self._desc(fd)
        kind = desc.inode.kind
        if kind is _PIPE or kind is _CHR or kind is _DIR:
            raise WasiError(Errno.BADF, "advice is for regular files")  # as wasmtime
        self._need(desc, _R_ADVISE)
        if advice not in Advice._value2member_map_:
            raise WasiError(Errno.INVAL, "bad advice")
        # Advice is a hint; ignoring it is always correct.

    def fd_allocate(self, fd: int, offset: int, length: int) -> None:
        """Not supported, as in wasmtime (the reference): ``posix_fallocate``
        gets ENOTSUP and the file does not grow."""
        if self._desc(fd).inode.kind is _DIR:
            raise WasiError(Errno.BADF, "fd_allocate on a directory")  # as wasmtime
        raise WasiError(Errno.NOTSUP, "fd_allocate is not supported")

    def fd_datasync(self, fd: int) -> None:
        self._sync(fd, _R_DATASYNC)

    def fd_sync(self, fd: int) -> None:
        self._sync(fd, _R_SYNC)

    def _sync(self, fd: int, right: int) -> None:
        desc = self._desc(fd)
        kind = desc.inode.kind
        if kind is _PIPE or kind is _CHR:
            raise WasiError(Errno.BADF, "cannot sync a stream")  # as wasmtime
        self._need(desc, _R_SYNC | right)
        if desc.host_fd >= 0:
            try:
                (os.fdatasync if right == _R_DATASYNC else os.fsync)(desc.host_fd)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None

    # -- metadata through an fd -------------------------------------------

    def fd_filestat_get(self, fd: int) -> Filestat:
        desc = self._desc(fd)
        self._need(desc, _R_FILESTAT_GET)
        node = desc.inode
        if node.stdio is not None:
            # wasmtime reports an all-zero filestat for stdio (only the type is set).
            return Filestat(0, 0, self._stdio_filetype(node.stdio), 0, 0, 0, 0, 0)
        if desc.host_fd >= 0 and node.data is None:
            try:
                st = os.fstat(desc.host_fd)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            return self._tree.host_filestat(node, st)
        self._tree.fresh()
        return self._tree.stat(node)

    def fd_filestat_set_size(self, fd: int, size: int) -> None:
        desc = self._desc(fd)
        if desc.inode.kind is _DIR:
            raise WasiError(Errno.BADF, "ftruncate on a directory")
        if not desc.rights_base & _R_FILESTAT_SET_SIZE or not desc.rights_base & _R_WRITE:
            # ftruncate on a descriptor not open for writing (wasmtime: opened
            # without FD_WRITE, whatever else was asked for) is EINVAL.
            raise WasiError(Errno.INVAL, "not open for writing")
        node = desc.inode
        if size > _I64_MAX:
            raise WasiError(Errno.INVAL, "size out of range")
        if node.data is not None:
            buf = node.data
            if size > self._max_file:
                raise WasiError(Errno.FBIG, "in-memory file size limit")
            if size < len(buf):
                del buf[size:]
            elif size > len(buf):
                buf.extend(bytes(size - len(buf)))
            node.mtim = node.ctim = self._now(0)
            return
        if desc.host_fd >= 0:
            try:
                os.ftruncate(desc.host_fd, size)
            except OSError as exc:
                raise wasi_error_from_os(exc) from None
            return
        raise WasiError(Errno.INVAL, "not a regular file")

    def _times(self, fst_flags: int, atim: int, mtim: int) -> tuple[int | None, int | None]:
        a, a_now, m, m_now = _check_fst_flags(fst_flags)
        now = self._now(0) if (a_now or m_now) else 0
        return (atim if a else now if a_now else None, mtim if m else now if m_now else None)

    def fd_filestat_set_times(self, fd: int, atim: int, mtim: int, fst_flags: int) -> None:
        desc = self._desc(fd)
        a, m = self._times(fst_flags, atim, mtim)
        if desc.inode.kind is _PIPE or desc.inode.kind is _CHR:
            raise WasiError(Errno.BADF, "no times on streams")  # as wasmtime
        self._need(desc, _R_FILESTAT_SET_TIMES)
        if a is None and m is None:
            return
        node = desc.inode
        if desc.host_fd >= 0 and node.data is None:
            if node.host is not None and node.host.mode is MountMode.OVERLAY:
                self._tree.fresh()
                if node.kind is _DIR:
                    self._tree.set_times(node, a, m, None)
                    return
                if desc.origin is None:
                    raise WasiError(Errno.ROFS)
                self._tree.copy_up(desc.origin[0], desc.origin[1], node)
            elif node.host is not None and node.host.mode is MountMode.READ_ONLY:
                raise WasiError(Errno.ROFS)
            else:
                try:
                    st = os.fstat(desc.host_fd)
                    os.utime(desc.host_fd, ns=(st.st_atime_ns if a is None else a, st.st_mtime_ns if m is None else m))
                except OSError as exc:
                    raise wasi_error_from_os(exc) from None
                return
        if node.host is not None and node.data is None and node.target is None:
            self._tree.set_times(node, a, m, None)
            return
        if a is not None:
            node.atim = a
        if m is not None:
            node.mtim = m
        node.ctim = self._now(0)

    # -- directories ------------------------------------------------------

    def fd_readdir(self, fd: int, cookie: int) -> Iterator[Dirent]:
        desc = self._desc(fd)
        node = desc.inode
        if node.kind is not _DIR:
            raise WasiError(Errno.BADF, "fd_readdir on a non-directory")  # as wasmtime
        self._need(desc, _R_READDIR)
        entries: list[tuple[str, Inode]] = [(".", node), ("..", node.parent or node)]
        entries.extend(self._tree.listing(node))
        out = [
            Dirent(i + 1, child.ino, name.encode("utf-8", "surrogateescape"), child.kind.filetype)
            for i, (name, child) in enumerate(entries)
            if i >= cookie
        ]
        return iter(out)

    # -- path operations --------------------------------------------------

    def path_create_directory(self, fd: int, path: str) -> None:
        d = self._dir(fd, _R_PATH_CREATE_DIRECTORY)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is not None or res.parent is None:
            raise WasiError(Errno.EXIST)
        self._tree.mkdir(res.parent, res.name)  # type: ignore[arg-type]

    def path_filestat_get(self, fd: int, lookupflags: int, path: str) -> Filestat:
        d = self._dir(fd, _R_PATH_FILESTAT_GET)
        res = self._tree.resolve(d.inode, path, bool(lookupflags & _FOLLOW))
        if res.node is None:
            raise WasiError(Errno.NOENT)
        return self._tree.stat(res.node)

    def path_filestat_set_times(
        self, fd: int, lookupflags: int, path: str, atim: int, mtim: int, fst_flags: int
    ) -> None:
        d = self._dir(fd, _R_PATH_FILESTAT_SET_TIMES)
        a, m = self._times(fst_flags, atim, mtim)
        res = self._tree.resolve(d.inode, path, bool(lookupflags & _FOLLOW))
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if a is None and m is None:
            return
        self._tree.set_times(res.node, a, m, res)

    def path_link(self, old_fd: int, old_lookupflags: int, old_path: str, new_fd: int, new_path: str) -> None:
        od = self._dir(old_fd, _R_PATH_LINK_SOURCE)
        nd = self._dir(new_fd, _R_PATH_LINK_TARGET)
        if old_lookupflags & _FOLLOW:
            raise WasiError(Errno.INVAL, "path_link never follows symlinks")  # as wasmtime
        # wasmtime resolves the new path's directory first: its errors win.
        dst = self._tree.resolve(nd.inode, new_path, False)
        src = self._tree.resolve(od.inode, old_path, bool(old_lookupflags & _FOLLOW))
        if src.node is None:
            raise WasiError(Errno.NOENT)
        if dst.node is not None or dst.parent is None:
            raise WasiError(Errno.EXIST)  # before EPERM for a directory, as wasmtime
        if src.node.kind is _DIR:
            raise WasiError(Errno.PERM, "hard link to a directory")
        if dst.trailing_slash:
            raise WasiError(Errno.NOENT)
        self._tree.link(src.node, src, dst.parent, dst.name)  # type: ignore[arg-type]

    def path_open(
        self,
        fd: int,
        dirflags: int,
        path: str,
        oflags: int,
        rights_base: int,
        rights_inheriting: int,
        fdflags: int,
    ) -> int:
        if self._desc(fd).inode.kind is not _DIR:
            raise WasiError(Errno.NOTDIR, "path_open relative to a non-directory")
        d = self._dir(fd, _R_PATH_OPEN)
        if oflags & ~0xF or fdflags & ~_F_ALL:
            raise WasiError(Errno.INVAL)
        if fdflags & _F_SYNCS:
            raise WasiError(Errno.NOTSUP, "synchronized I/O flags")  # as wasmtime
        if oflags & _O_DIRECTORY and oflags & (_O_CREAT | _O_EXCL | _O_TRUNC):
            # wasmtime refuses these combinations before looking at the path.
            raise WasiError(Errno.INVAL, "O_DIRECTORY with O_CREAT/O_EXCL/O_TRUNC")
        if oflags & _O_CREAT and path.endswith("/"):
            raise WasiError(Errno.ISDIR, "O_CREAT with a trailing slash")
        tree = self._tree
        creat = oflags & _O_CREAT
        # O_CREAT|O_EXCL never follows a final symlink (it exists: EEXIST).
        follow = bool(dirflags & _FOLLOW) and not (creat and oflags & _O_EXCL)
        res = tree.resolve(d.inode, path, follow)
        node = res.node
        created = False
        if node is None:
            if not creat:
                raise WasiError(Errno.NOENT)
            if oflags & _O_DIRECTORY:
                raise WasiError(Errno.NOENT)
            if res.trailing_slash:
                raise WasiError(Errno.ISDIR)
            self._need(d, _R_PATH_CREATE_FILE)
            node = tree.create_file(res.parent, res.name)  # type: ignore[arg-type]
            created = True
        else:
            if creat and oflags & _O_EXCL:
                raise WasiError(Errno.EXIST)
            if node.kind is Kind.SYMLINK:
                raise WasiError(Errno.LOOP, "final component is a symlink (no follow)")
            if oflags & _O_DIRECTORY and node.kind is not _DIR:
                raise WasiError(Errno.NOTDIR)
        kind = node.kind
        trunc = bool(oflags & _O_TRUNC)
        implied = 0
        if creat or trunc:
            # As in wasmtime, creating or truncating opens for writing whatever
            # the requested rights say (not reported by fd_fdstat_get).
            implied = _R_OPEN_FOR_WRITE & ~rights_base
            rights_base |= _R_OPEN_FOR_WRITE
        base = rights_base & d.rights_inheriting & rights_for(kind)
        base |= (implied & base) << _IMPLIED_SHIFT
        inheriting = rights_inheriting & d.rights_inheriting
        if kind is _DIR:
            if rights_base & _R_OPEN_FOR_WRITE:
                raise WasiError(Errno.ISDIR)
        if trunc:
            self._need(d, _R_PATH_FILESTAT_SET_SIZE)
        modifying = bool(base & _R_MODIFY_FILE) or trunc
        desc = Description(node, base, inheriting, fdflags)
        is_host = node.host is not None and node.data is None
        if is_host and kind is _FILE:
            hd = node.host
            assert hd is not None
            if modifying and hd.mode is MountMode.READ_ONLY:
                raise WasiError(Errno.ROFS)
            if modifying and hd.mode is MountMode.OVERLAY:
                assert res.parent is not None
                tree.copy_up(res.parent, res.name, node)  # type: ignore[arg-type]
            else:
                flags = os.O_RDWR if modifying else os.O_RDONLY
                if trunc and not created:
                    flags |= os.O_TRUNC
                desc.host_fd = hd.open_file(node.host_path, flags)
                desc.host_writable = modifying
                if hd.mode is MountMode.OVERLAY and res.parent is not None:
                    desc.origin = (res.parent, res.name)  # type: ignore[assignment]
        elif is_host and kind is _DIR:
            hd = node.host
            assert hd is not None
            desc.host_fd = hd.open_dir(node.host_path)
        if trunc and node.data is not None and node.data:
            del node.data[:]
            node.mtim = node.ctim = self._now(0)
        try:
            return self._fdt.install(desc)
        except WasiError:
            desc.release()
            raise

    def path_readlink(self, fd: int, path: str) -> bytes:
        d = self._dir(fd, _R_PATH_READLINK)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if res.node.kind is not Kind.SYMLINK:
            raise WasiError(Errno.INVAL, "not a symlink")
        target = self._tree.readlink(res.node)
        if target.startswith("/"):
            # wasmtime hides targets that point outside the sandbox.
            raise WasiError(Errno.PERM, "absolute symlink target")
        return target.encode("utf-8", "surrogateescape")

    def path_remove_directory(self, fd: int, path: str) -> None:
        d = self._dir(fd, _R_PATH_REMOVE_DIRECTORY)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if res.parent is None:
            raise WasiError(Errno.INVAL, "cannot remove . or ..")
        if res.trailing_slash and res.node.kind is _DIR:
            # wasmtime refuses "dir/" (as "dir/."): EINVAL.
            raise WasiError(Errno.INVAL, "trailing slash")
        self._tree.rmdir(res.parent, res.name, res.node)  # type: ignore[arg-type]

    def path_rename(self, fd: int, old_path: str, new_fd: int, new_path: str) -> None:
        od = self._dir(fd, _R_PATH_RENAME_SOURCE)
        nd = self._dir(new_fd, _R_PATH_RENAME_TARGET)
        # wasmtime resolves the new path's directory first: its errors win.
        dst = self._tree.resolve(nd.inode, new_path, False)
        if dst.parent is None:
            raise WasiError(Errno.BUSY, "cannot rename onto . or ..")  # wasmtime: EBUSY
        src = self._tree.resolve(od.inode, old_path, False)
        if src.node is None:
            raise WasiError(Errno.NOENT)
        if src.parent is None:
            raise WasiError(Errno.BUSY, "cannot rename . or ..")
        if src.trailing_slash and src.node.kind is not _DIR:
            raise WasiError(Errno.NOTDIR)
        if dst.trailing_slash and src.node.kind is not _DIR:
            raise WasiError(Errno.NOTDIR)
        self._tree.rename(src.parent, src.name, src.node, dst.parent, dst.name, dst.node)  # type: ignore[arg-type]

    def path_symlink(self, old_path: str, fd: int, new_path: str) -> None:
        d = self._dir(fd, _R_PATH_SYMLINK)
        if "\x00" in old_path:
            raise WasiError(Errno.INVAL)
        if old_path.startswith("/"):
            # Such a link could never be followed inside the sandbox (wasmtime: EPERM).
            raise WasiError(Errno.PERM, "absolute symlink target")
        res = self._tree.resolve(d.inode, new_path, False)
        if res.node is not None or res.parent is None:
            raise WasiError(Errno.EXIST)
        if res.trailing_slash:
            raise WasiError(Errno.NOENT)
        self._tree.symlink(old_path, res.parent, res.name)  # type: ignore[arg-type]

    def path_unlink_file(self, fd: int, path: str) -> None:
        d = self._dir(fd, _R_PATH_UNLINK_FILE)
        res = self._tree.resolve(d.inode, path, False)
        if res.node is None:
            raise WasiError(Errno.NOENT)
        if res.parent is None or res.node.kind is _DIR:
            raise WasiError(Errno.ISDIR)
        self._tree.unlink(res.parent, res.name, res.node)  # type: ignore[arg-type]

    # -- poll -------------------------------------------------------------

    def poll_oneoff(self, subscriptions: list[Subscription]) -> list[Event]:
        """Report every subscription that is ready now; if none is, wait for
        the earliest clock deadline (or stdin) and report what then fired."""
        if not subscriptions:
            raise WasiError(Errno.INVAL, "no subscriptions")
        ready: list[tuple[int, Event]] = []
        timers: list[tuple[int, int, Subscription]] = []  # (remaining ns, index, sub)
        waiting_stdin: list[tuple[int, Subscription, int]] = []  # (index, sub, fileno)
        blocked = 0
        for i, sub in enumerate(subscriptions):
            t = sub.type
            if t == EventType.CLOCK:
                try:
                    now = self._now(sub.clock_id)
                except WasiError:
                    # wasmtime fails the whole call for a clock it does not provide.
                    raise WasiError(Errno.INVAL, f"clock id {sub.clock_id}") from None
                if sub.flags & SubclockFlags.SUBSCRIPTION_CLOCK_ABSTIME:
                    remaining = sub.timeout - now
                else:
                    remaining = sub.timeout
                if remaining <= 0:
                    ready.append((i, Event(sub.userdata, Errno.SUCCESS, EventType.CLOCK)))
                else:
                    timers.append((remaining, i, sub))
            elif t == EventType.FD_READ or t == EventType.FD_WRITE:
                ev, fileno = self._fd_readiness(sub)
                if ev is not None:
                    ready.append((i, ev))
                elif fileno is not None:
                    waiting_stdin.append((i, sub, fileno))
                else:
                    blocked += 1
            else:
                raise WasiError(Errno.INVAL, "bad subscription type")
        if not ready and waiting_stdin:
            filenos = [f for _, _, f in waiting_stdin]
            left = min(r for r, _, _ in timers) if timers else None
            while True:
                # select() cannot take a u64 timeout: wait a day at a time.
                chunk = _DAY_NS if left is None else min(left, _DAY_NS)
                try:
                    rlist, _, _ = select.select(filenos, [], [], chunk / 1e9)
                except (OSError, ValueError):
                    rlist = filenos
                if rlist or (left is not None and chunk == left):
                    break
                if left is not None:
                    left -= chunk
            for i, sub, f in waiting_stdin:
                if f in rlist:
                    ready.append((i, Event(sub.userdata, Errno.SUCCESS, sub.type, 1)))
            if not ready and timers:
                first = min(r for r, _, _ in timers)
                ready.extend((i, Event(s.userdata, Errno.SUCCESS, EventType.CLOCK)) for r, i, s in timers if r <= first)
        elif not ready:
            if not timers:
                # Only pipes that nobody else can fill in this single-threaded host.
                raise WasiError(Errno.AGAIN, "poll_oneoff would block forever")
            first = min(r for r, _, _ in timers)
            self.clock.sleep(first)
            ready.extend((i, Event(s.userdata, Errno.SUCCESS, EventType.CLOCK)) for r, i, s in timers if r <= first)
        ready.sort(key=lambda p: p[0])
        return [e for _, e in ready]

    def _fd_readiness(self, sub: Subscription) -> tuple[Event | None, int | None]:
        """(event if ready now, stdin fileno to wait on if it may become ready).

        As in wasmtime, a subscription that can never be served (closed fd, a
        directory, reading stdout, writing stdin) fails the whole call with
        EBADF, and a ready stream reports ``nbytes`` 1 (an unknown amount)."""
        t = EventType(sub.type)
        desc = self._fds.get(sub.fd)
        if desc is None:
            raise WasiError(Errno.BADF, f"poll on closed fd {sub.fd}")
        node = desc.inode
        kind = node.kind
        if kind is _DIR:
            raise WasiError(Errno.BADF, "poll on a directory")
        if kind is _CHR and (node.stdio == 0) != (t == EventType.FD_READ):
            raise WasiError(Errno.BADF, "poll for the wrong direction on stdio")
        if not desc.rights_base & _R_POLL:
            return Event(sub.userdata, Errno.NOTCAPABLE, t), None
        if kind is _PIPE:
            pipe = node.pipe
            assert pipe is not None
            if t == EventType.FD_READ:
                if pipe.buffer:
                    return Event(sub.userdata, Errno.SUCCESS, t, len(pipe.buffer)), None
                if pipe.writers == 0:
                    return Event(sub.userdata, Errno.SUCCESS, t, 0, EventRwFlags.FD_READWRITE_HANGUP), None
                return None, None
            if pipe.readers == 0:
                return Event(sub.userdata, Errno.SUCCESS, t, 0, EventRwFlags.FD_READWRITE_HANGUP), None
            room = pipe.capacity - len(pipe.buffer)
            if room > 0:
                return Event(sub.userdata, Errno.SUCCESS, t, room), None
            return None, None
        if kind is _CHR and node.stdio == 0 and t == EventType.FD_READ:
            stream = self._stream(0)
            fileno = _fileno(stream) if stream is not None else None
            if fileno is None:
                return Event(sub.userdata, Errno.SUCCESS, t, 1), None
            try:
                rl, _, _ = select.select([fileno], [], [], 0)
            except (OSError, ValueError):
                return Event(sub.userdata, Errno.SUCCESS, t, 1), None
            if rl:
                return Event(sub.userdata, Errno.SUCCESS, t, 1), None
            return None, fileno
        if kind is _FILE and t == EventType.FD_READ:
            avail = max(0, self._size(desc) - desc.offset)
            return Event(sub.userdata, Errno.SUCCESS, t, avail), None
        return Event(sub.userdata, Errno.SUCCESS, t, 1), None


# Referenced for readers: part of the kernel's vocabulary.
_ = Resolved
