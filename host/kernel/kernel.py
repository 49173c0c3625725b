"""``WasiKernel``: every wasi_snapshot_preview1 syscall (and the WASIX fd subset)
as a plain-value Python method.

Sans-IO with respect to wasm: the adapter decodes guest memory and calls these
methods with ints/str/bytes; they return plain values or raise
``WasiError(errno)``. Time and randomness come only from the injected
``Clock`` and ``RandomSource``; host I/O only from the mounts (``hostdir``)
and the fd classes (``streams``, ``hostfile``). The syscalls are grouped by
area: ``fdcalls``, ``pathcalls``, ``pollcalls``; this module has the process
itself. See docs/wasifs.md for the semantic choices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import BinaryIO, NoReturn

from .fdcalls import FdCalls
from .pathcalls import PathCalls
from .pollcalls import PollCalls
from .sources import Clock, RandomSource, SystemClock, SystemRandom
from .wasi_types import Errno, ProcExit, WasiError
from .wasifs import WasiFs

__all__ = ["WasiKernel"]


def _to_bytes(item: str | bytes) -> bytes:
    return item.encode("utf-8", "surrogateescape") if isinstance(item, str) else bytes(item)


def _sizes(items: list[bytes]) -> tuple[int, int]:
    """(count, bytes including each string's NUL): what a guest allocates."""
    return len(items), sum(map(len, items)) + len(items)


class WasiKernel(FdCalls, PathCalls, PollCalls):
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
        self.clock = clock if clock is not None else SystemClock()
        self.random = random if random is not None else SystemRandom()
        fs = fs if fs is not None else WasiFs()
        if not fs.clock_injected:
            fs.tree.clock = self.clock
        fs.attach_stdio(stdin, stdout, stderr)
        self._bind(fs)

    def fork(self) -> WasiKernel:
        """The kernel of a forked child: same args, env, sources and stdio
        streams, the filesystem tree shared, the fd table copied with its
        descriptions shared (``WasiFs.fork``)."""
        child = WasiKernel.__new__(WasiKernel)
        child.args = list(self.args)
        child.env = list(self.env)
        child.clock = self.clock
        child.random = self.random
        child._bind(self.fs.fork())
        return child

    # -- args, env, clocks, random, process --------------------------------

    def args_get(self) -> list[bytes]:
        return list(self.args)

    def args_sizes_get(self) -> tuple[int, int]:
        """(argc, total bytes of the strings including their NULs)."""
        return _sizes(self.args)

    def environ_get(self) -> list[bytes]:
        return list(self.env)

    def environ_sizes_get(self) -> tuple[int, int]:
        """(count, total bytes of the ``NAME=VALUE`` strings including their NULs)."""
        return _sizes(self.env)

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
