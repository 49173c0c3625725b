"""``--verify``: re-execute every call on a real kernel and check its answers.

Verbatim replay proves the *guest* asks the recorded questions. Verify mode
also checks the *host*: a ``WasiKernel`` is rebuilt from the journal alone and
every call is executed on it (through the same decode/execute handlers as a
live run); its errno and every byte it writes into guest memory must equal the
journal's. That catches a kernel regression (another errno, another ``stat``
field, another directory listing) with nothing but old journals.

The kernel is rebuilt from the header: argv, environment, the preopens in
order (tmpfs preopens start empty, as they did), and, for host-directory
preopens, the directory trees captured at record time (``fscapture``; a
journal without a capture cannot be verified and says so). What the world fed
the guest is fed back from the journal, call by call, through the kernel's
injected sources: ``JournalClock`` answers ``clock_time_get``/``clock_res_get``
with the recorded values, ``JournalRandom`` returns the recorded
``random_get`` bytes, ``JournalStdin`` the bytes each ``fd_read`` got from stdin.

Not compared (documented in docs/replay.md): the three timestamps of a
``filestat`` (the kernel stamps files from its clock *between* syscalls,
which the journal does not record), and, for files of a captured host
directory, ``dev``/``ino`` (a restored file cannot get the recording host's
inode numbers) and the ``size`` of a directory (a host filesystem's own figure:
4096 on ext4, something else on tmpfs or btrfs, 0 for a directory the verifier's
in-memory overlay creates). ``poll_oneoff`` and ``sched_yield`` are answered from the
journal without re-execution: their answer is timing, which is the input.
"""

from __future__ import annotations

import functools
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wasi_rr.host.boundary.adapter import HostAdapter, Observe
from wasi_rr.host.kernel.hostdir import MountMode
from wasi_rr.host.kernel.kernel import WasiKernel
from wasi_rr.host.kernel.wasi_types import Errno, Filetype, WasiError
from wasi_rr.host.kernel.wasifs import MountSpec, WasiFs
from wasi_rr.host.table import Feed, OutKind, Role, Signature, Verify
from wasi_rr.host.table.format import errno_name, format_call
from wasi_rr.host.table.structs import FILESTAT_DEV_INO as _FILESTAT_DEV_INO
from wasi_rr.host.table.structs import FILESTAT_FILETYPE as _FILESTAT_FILETYPE
from wasi_rr.host.table.structs import FILESTAT_SIZE as _FILESTAT_SIZE
from wasi_rr.host.table.structs import FILESTAT_TIMES as _FILESTAT_TIMES
from wasi_rr.journal import Call, JournalReader, PreopenMode

from .divergence import Divergence, DivergenceKind, FieldDiff, bytes_diff, format_entry
from .engine import ReplayError

__all__ = ["JournalClock", "JournalRandom", "JournalStdin", "KernelVerifier", "VerifyError"]

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class VerifyError(ReplayError):
    """The journal lacks what verify mode needs (a user-facing, one-line reason)."""


class JournalClock:
    """A ``Clock`` that answers with the values the journal recorded.

    Before each call the verifier ``prime``s it with the call's recorded
    answer; between calls (file timestamps) it repeats the latest time it
    gave. ``sleep`` never waits.
    """

    def __init__(self) -> None:
        self.next_now: int | None = None
        self.next_res: int | None = None
        self.next_error: int | None = None
        """A recorded clock error (e.g. EBADF for the CPU-time clocks): the host's
        clock policy is part of the source, so it is fed back like a value."""
        self.last = 0

    def _raise_primed_error(self) -> None:
        if self.next_error is not None:
            errno, self.next_error = self.next_error, None
            raise WasiError(Errno(errno))

    def now(self, clock_id: int) -> int:
        self._raise_primed_error()
        if self.next_now is not None:
            self.last, self.next_now = self.next_now, None
        return self.last

    def resolution(self, clock_id: int) -> int:
        self._raise_primed_error()
        value = self.next_res if self.next_res is not None else 1
        self.next_res = None
        return value

    def sleep(self, ns: int) -> None:
        pass


class JournalRandom:
    """``random_get`` answers primed from the journal (zeros if unprimed)."""

    def __init__(self) -> None:
        self.pending = b""

    def bytes(self, length: int) -> bytes:
        out, self.pending = self.pending[:length], b""
        return out + bytes(length - len(out))


class JournalStdin:
    """A binary stream whose next read returns what the journal's read got."""

    def __init__(self) -> None:
        self.pending = b""

    def read1(self, size: int = -1) -> bytes:
        n = len(self.pending) if size < 0 else size
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def read(self, size: int = -1) -> bytes:
        return self.read1(size)

    def readable(self) -> bool:
        return True


def _recorded(entry: Call, ptr: int) -> bytes | None:
    for addr, data in entry.writes:
        if addr == ptr:
            return data
    return None


class KernelVerifier:
    """The ``Verifier`` of ``JournalBackend`` (see module docstring)."""

    def __init__(self, kernel: WasiKernel, clock: JournalClock, random: JournalRandom,
                 stdin: JournalStdin, *, host_mounted: bool,
                 cleanup: Callable[[], None] = lambda: None) -> None:
        self.kernel = kernel
        self.clock = clock
        self.random = random
        self.stdin = stdin
        self.host_mounted = host_mounted
        self._cleanup = cleanup
        self.verified = 0
        self.answered_only = 0
        self._kernels: dict[int, WasiKernel] = {}
        """Per pid, the kernel its calls run on (fork journals); else ``kernel``."""
        self._observers: dict[tuple[int, int, tuple[str, str], int], Observe] = {}
        """The generated decode+execute function per (adapter, its memory, call,
        kernel): made once, not per call (it was most of verify's time)."""

    @classmethod
    def from_journal(cls, reader: JournalReader) -> KernelVerifier:
        """Rebuild the recorded process's kernel from ``reader``'s header."""
        from wasi_rr.host.runtime.fscapture import CAPTURE_KEY, materialize

        header = reader.header
        capture = header.meta.get(CAPTURE_KEY)
        tmp: tempfile.TemporaryDirectory[str] | None = None
        specs: list[MountSpec] = []
        host_mounted = False
        for pre in header.preopens:
            if pre.mode == "tmpfs":
                specs.append(MountSpec.tmpfs(pre.guest))
                continue
            if not isinstance(capture, dict) or pre.guest not in capture.get("mounts", {}):
                raise VerifyError(
                    f"cannot verify: the journal preopens host directory {pre.guest} but "
                    "carries no capture of its contents (it was recorded with "
                    "--no-capture-fs, or the directory was too large to capture)")
            if tmp is None:
                tmp = tempfile.TemporaryDirectory(prefix="wasi-rr-verify-")
            root = Path(tmp.name) / f"m{len(specs)}"
            materialize(capture, pre.guest, root)
            # The copy is private to this verification, so the recorded mode is
            # reproduced exactly: a write-through mount writes into the copy and
            # behaves like the recorded host directory did (e.g. lists new files
            # in host order), an overlay keeps them in memory as it did then.
            mode = MountMode(PreopenMode(pre.mode).value)
            specs.append(MountSpec(pre.guest, host=root, mode=mode))
            host_mounted = True
        clock, random, stdin = JournalClock(), JournalRandom(), JournalStdin()
        try:
            fs = WasiFs(specs, clock=clock)
        except Exception:
            if tmp is not None:
                tmp.cleanup()
            raise
        kernel = WasiKernel(args=header.argv, env=[f"{k}={v}" for k, v in header.env],
                            fs=fs, clock=clock, random=random, stdin=stdin,  # type: ignore[arg-type]
                            stdout=None, stderr=None)

        def cleanup() -> None:
            fs.close()
            fs.close_mounts()
            if tmp is not None:
                tmp.cleanup()
        return cls(kernel, clock, random, stdin, host_mounted=host_mounted, cleanup=cleanup)

    def close(self) -> None:
        self._cleanup()

    def adopt(self, pid: int, kernel: WasiKernel) -> None:
        """Re-execute ``pid``'s calls on ``kernel`` (a replayed process group:
        ``replay.procs``). The first process's kernel is this verifier's
        ``kernel`` as the group adopted it; a child's is its parent's, forked
        by the group at the recorded fork, so it shares the parent's open
        descriptions and pipes as the recorded child did. Every process reads
        the same journal-fed clock, random and stdin sources."""
        self._kernels[pid] = kernel

    # -- per call ---------------------------------------------------------------------

    def check(self, adapter: HostAdapter, sig: Signature, params: tuple[int, ...],
              entry: Call) -> Divergence | None:
        if sig.verify is Verify.FROM_JOURNAL or sig.irregular is not None:
            self.answered_only += 1
            return None
        self._prime(sig, entry)
        kernel = self._kernels.get(adapter.pid, self.kernel) if self._kernels else self.kernel
        key = (id(adapter), id(adapter.memory), sig.key, id(kernel))
        observe = self._observers.get(key)
        if observe is None:
            observe = self._observers[key] = adapter.observer(sig, kernel)
        try:
            inputs, errno, writes = observe(params)
        finally:
            self._unprime()
        assert errno is not None
        self.verified += 1
        return self.judge(sig, params, entry, [d for _, d in inputs], errno, writes)

    def judge(self, sig: Signature, params: tuple[int, ...], entry: Call, inputs: list[Any],
              errno: int, writes: list[tuple[int, bytes]]) -> Divergence | None:
        """The divergence if the kernel's answer (``errno``, ``writes``) is not the
        recorded one, fields it cannot reproduce masked; else None."""
        diffs = self._compare(sig, params, entry, errno, writes)
        if not diffs:
            return None
        got = format_call(entry.module, entry.name, entry.params, inputs, errno, writes)
        return Divergence(DivergenceKind.RESULT_MISMATCH, entry.seq,
                          f"the re-executed {entry.name} answered differently from the "
                          f"journal in {', '.join(d.what for d in diffs)}",
                          expected=format_entry(entry), actual=got, fields=diffs)

    def _unprime(self) -> None:
        """Forget what a call did not consume (a call that faulted in decode)."""
        self.clock.next_now = self.clock.next_res = self.clock.next_error = None
        self.random.pending = b""
        self.stdin.pending = b""

    def _prime(self, sig: Signature, entry: Call) -> None:
        """Feed the kernel's injected source with the answer the journal recorded
        (the table says which source a nondeterministic call reads)."""
        feed = sig.feed
        if feed is Feed.NONE:
            return
        if entry.errno != 0:
            if feed in (Feed.CLOCK_NOW, Feed.CLOCK_RES) and entry.errno in (
                    Errno.BADF, Errno.INVAL, Errno.NOTSUP):
                self.clock.next_error = entry.errno
            return
        target = sig.result_params[0]
        data = _recorded(entry, entry.params[sig.index(target.name)])
        if feed is Feed.CLOCK_NOW and data is not None and len(data) == 8:
            self.clock.next_now = _U64.unpack(data)[0]
        elif feed is Feed.CLOCK_RES and data is not None and len(data) == 8:
            self.clock.next_res = _U64.unpack(data)[0]
        elif feed is Feed.RANDOM:
            self.random.pending = data or b""
        elif feed is Feed.STDIN:
            # only a read from stdin consumes it; any other fd_read ignores it
            counts = {entry.params[i] for i, p in enumerate(sig.params) if p.count_of}
            self.stdin.pending = b"".join(d for a, d in entry.writes if a not in counts)

    def _mask(self, sig: Signature, params: tuple[int, ...],
              writes: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        """Blank the fields the verifier cannot reproduce (module docstring)."""
        stats = _filestat_params(sig)
        if not stats:
            return writes
        stat_addrs = {params[i] for i in stats}
        out = []
        for addr, data in writes:
            if addr in stat_addrs and len(data) == 64:
                b = bytearray(data)
                b[_FILESTAT_TIMES] = bytes(24)
                if self.host_mounted:
                    b[_FILESTAT_DEV_INO] = bytes(16)
                    if b[_FILESTAT_FILETYPE] == Filetype.DIRECTORY:
                        b[_FILESTAT_SIZE] = bytes(8)
                data = bytes(b)
            out.append((addr, data))
        return out

    def _compare(self, sig: Signature, params: tuple[int, ...], entry: Call,
                 errno: int, writes: list[tuple[int, bytes]]) -> list[FieldDiff]:
        diffs: list[FieldDiff] = []
        if errno != entry.errno:
            diffs.append(FieldDiff("errno", errno_name(entry.errno), errno_name(errno)))
        expected = self._mask(sig, params, list(entry.writes))
        actual = self._mask(sig, params, writes)
        if self.host_mounted and any(p.role is Role.OUT_DIRENTS for p in sig.params):
            expected, actual = _mask_dirent_inos(expected), _mask_dirent_inos(actual)
        if expected != actual:
            exp_map, act_map = dict(expected), dict(actual)
            for addr in sorted(set(exp_map) | set(act_map)):
                e, a = exp_map.get(addr), act_map.get(addr)
                if e == a:
                    continue
                if e is None or a is None:
                    diffs.append(FieldDiff(f"write at {addr:#x}",
                                           "no write" if e is None else f"{len(e)} bytes",
                                           "no write" if a is None else f"{len(a)} bytes"))
                else:
                    et, at = bytes_diff(e, a)
                    diffs.append(FieldDiff(f"write at {addr:#x}", et, at))
        return diffs


@functools.cache
def _filestat_params(sig: Signature) -> tuple[int, ...]:
    """Indexes of the params that receive a filestat (whose times are masked)."""
    return tuple(i for i, p in enumerate(sig.params)
                 if p.role is Role.OUT and p.out is OutKind.FILESTAT)


def _mask_dirent_inos(writes: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Zero ``d_ino`` in serialized dirents (24-byte header: next, ino, namlen, type)."""
    out: list[tuple[int, bytes]] = []
    for addr, data in writes:
        if len(data) <= 4:
            out.append((addr, data))
            continue
        b = bytearray(data)
        pos = 0
        while pos + 24 <= len(b):
            b[pos + 8:pos + 16] = bytes(8)
            namlen = _U32.unpack_from(b, pos + 16)[0]
            pos += 24 + namlen
        out.append((addr, bytes(b)))
    return out
