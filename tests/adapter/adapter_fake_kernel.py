"""A tiny in-memory kernel for adapter tests: plain values in, plain values out.

It implements just enough of the ``WasiKernel`` method table for the adapter's
encoding to be checked byte for byte, and logs every call so a test can assert
that a faulting call never reached the kernel.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

from wasi_rr.host.kernel.wasi_types import (
    Dirent,
    Errno,
    Event,
    EventType,
    FdFlags,
    Fdstat,
    Filestat,
    Filetype,
    Prestat,
    ProcExit,
    Rights,
    Subscription,
    WasiError,
)


class FakeKernel:
    def __init__(self, args: list[bytes] | None = None, env: list[bytes] | None = None,
                 stdin: bytes = b"") -> None:
        self.args = args if args is not None else [b"prog", b"arg1"]
        self.env = env if env is not None else [b"A=1", b"HOME=/"]
        self.stdin = stdin
        self.out: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.now = 1_000_000_000

    def _log(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def _fd(self, fd: int) -> None:
        if fd not in (0, 1, 2, 3):
            raise WasiError(Errno.BADF)

    def args_get(self) -> list[bytes]:
        self._log("args_get")
        return self.args

    def environ_get(self) -> list[bytes]:
        self._log("environ_get")
        return self.env

    def args_sizes_get(self) -> tuple[int, int]:
        self._log("args_sizes_get")
        return len(self.args), sum(len(a) + 1 for a in self.args)

    def environ_sizes_get(self) -> tuple[int, int]:
        self._log("environ_sizes_get")
        return len(self.env), sum(len(e) + 1 for e in self.env)

    def clock_res_get(self, clock_id: int) -> int:
        self._log("clock_res_get", clock_id)
        return 1000

    def clock_time_get(self, clock_id: int, precision: int) -> int:
        self._log("clock_time_get", clock_id, precision)
        self.now += 1
        return self.now

    def fd_write(self, fd: int, data: bytes) -> int:
        self._log("fd_write", fd, data)
        self._fd(fd)
        self.out.setdefault(fd, bytearray()).extend(data)
        return len(data)

    def fd_pwrite(self, fd: int, data: bytes, offset: int) -> int:
        self._log("fd_pwrite", fd, data, offset)
        return len(data)

    def fd_read(self, fd: int, size: int) -> bytes:
        self._log("fd_read", fd, size)
        self._fd(fd)
        data, self.stdin = self.stdin[:size], self.stdin[size:]
        return data

    def fd_pread(self, fd: int, size: int, offset: int) -> bytes:
        self._log("fd_pread", fd, size, offset)
        return b"0123456789"[offset:offset + size]

    def fd_close(self, fd: int) -> None:
        self._log("fd_close", fd)
        self._fd(fd)

    def fd_fdstat_get(self, fd: int) -> Fdstat:
        self._log("fd_fdstat_get", fd)
        self._fd(fd)
        return Fdstat(Filetype.CHARACTER_DEVICE, FdFlags.APPEND, Rights.FD_WRITE, Rights(0))

    def fd_filestat_get(self, fd: int) -> Filestat:
        self._log("fd_filestat_get", fd)
        return Filestat(1, 2, Filetype.REGULAR_FILE, 1, 10, 5, 6, 7)

    def fd_prestat_get(self, fd: int) -> Prestat:
        self._log("fd_prestat_get", fd)
        if fd != 3:
            raise WasiError(Errno.BADF)
        return Prestat(b"/data")

    def fd_prestat_dir_name(self, fd: int) -> bytes:
        self._log("fd_prestat_dir_name", fd)
        return b"/data"

    def fd_readdir(self, fd: int, cookie: int) -> Iterator[Dirent]:
        self._log("fd_readdir", fd, cookie)
        entries = [
            Dirent(1, 10, b".", Filetype.DIRECTORY),
            Dirent(2, 11, b"..", Filetype.DIRECTORY),
            Dirent(3, 12, b"file.txt", Filetype.REGULAR_FILE),
        ]
        return iter(entries[cookie:])

    def fd_seek(self, fd: int, offset: int, whence: int) -> int:
        self._log("fd_seek", fd, offset, whence)
        return 100 + offset

    def fd_tell(self, fd: int) -> int:
        self._log("fd_tell", fd)
        return 42

    def path_open(
        self,
        fd: int,
        dirflags: int,
        path: str,
        oflags: int,
        base: int,
        inheriting: int,
        fdflags: int,
    ) -> int:
        self._log("path_open", fd, dirflags, path, oflags, base, inheriting, fdflags)
        if path == "missing":
            raise WasiError(Errno.NOENT)
        return 4

    def path_filestat_get(self, fd: int, flags: int, path: str) -> Filestat:
        self._log("path_filestat_get", fd, flags, path)
        return Filestat(1, 3, Filetype.DIRECTORY, 2, 0, 0, 0, 0)

    def path_readlink(self, fd: int, path: str) -> bytes:
        self._log("path_readlink", fd, path)
        return b"target/of/link"

    def path_create_directory(self, fd: int, path: str) -> None:
        self._log("path_create_directory", fd, path)

    def path_unlink_file(self, fd: int, path: str) -> None:
        self._log("path_unlink_file", fd, path)

    def path_remove_directory(self, fd: int, path: str) -> None:
        self._log("path_remove_directory", fd, path)

    def path_rename(self, fd: int, old: str, new_fd: int, new: str) -> None:
        self._log("path_rename", fd, old, new_fd, new)

    def path_symlink(self, old: str, fd: int, new: str) -> None:
        self._log("path_symlink", old, fd, new)

    def path_link(self, old_fd: int, flags: int, old: str, new_fd: int, new: str) -> None:
        self._log("path_link", old_fd, flags, old, new_fd, new)

    def path_filestat_set_times(
        self, fd: int, flags: int, path: str, atim: int, mtim: int, fst: int
    ) -> None:
        self._log("path_filestat_set_times", fd, flags, path, atim, mtim, fst)

    def poll_oneoff(self, subs: list[Subscription]) -> list[Event]:
        self._log("poll_oneoff", subs)
        return [Event(s.userdata, Errno.SUCCESS, s.type) for s in subs]

    def random_get(self, length: int) -> bytes:
        self._log("random_get", length)
        return bytes(i & 0xFF for i in range(length))

    def sock_recv(self, fd: int, size: int, flags: int) -> tuple[bytes, int]:
        self._log("sock_recv", fd, size, flags)
        raise WasiError(Errno.NOTSOCK)

    def sock_send(self, fd: int, data: bytes, flags: int) -> int:
        self._log("sock_send", fd, data, flags)
        raise WasiError(Errno.NOTSOCK)

    def sock_accept(self, fd: int, flags: int) -> int:
        self._log("sock_accept", fd, flags)
        raise WasiError(Errno.NOTSOCK)

    def fd_dup(self, fd: int) -> int:
        self._log("fd_dup", fd)
        return 7

    def fd_pipe(self) -> tuple[int, int]:
        self._log("fd_pipe")
        return (5, 6)

    def sched_yield(self) -> None:
        self._log("sched_yield")

    def proc_raise(self, sig: int) -> None:
        self._log("proc_raise", sig)
        raise WasiError(Errno.NOSYS)

    def proc_exit(self, code: int) -> NoReturn:
        self._log("proc_exit", code)
        raise ProcExit(code)

    # A deliberately broken method: the adapter must turn this into a trap.
    def fd_sync(self, fd: int) -> None:
        raise ZeroDivisionError("kernel bug")

    def fd_datasync(self, fd: int) -> None:
        self._log("fd_datasync", fd)


EVENT_TYPES = EventType
