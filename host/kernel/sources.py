"""Injected sources of nondeterminism: clocks and randomness.

Syscall handlers never call ``time`` or ``os.urandom`` themselves: they ask a
``Clock`` or ``RandomSource`` handed to the kernel.  Record, replay and verify
substitute these objects (a journal-fed clock, a seeded generator) without the
kernel knowing, and tests use ``VirtualClock``/``SeededRandom`` to stay
deterministic.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .wasi_types import ClockId, Errno, WasiError

__all__ = [
    "Clock",
    "RandomSource",
    "SeededRandom",
    "SystemClock",
    "SystemRandom",
    "VirtualClock",
]


@runtime_checkable
class Clock(Protocol):
    """What the kernel needs from time.

    ``now`` and ``resolution`` take a raw clock id (``ClockId`` value) and raise
    ``WasiError(INVAL)`` for ids they do not know; ``sleep`` blocks (or, for a
    virtual clock, advances time) by ``ns`` nanoseconds.
    """

    def now(self, clock_id: int) -> int: ...

    def resolution(self, clock_id: int) -> int: ...

    def sleep(self, ns: int) -> None: ...


def _no_cpu_clock() -> int:
    raise WasiError(Errno.BADF, "CPU-time clocks are not provided")


def _check_id(clock_id: int, cpu_clocks: bool) -> None:
    if not 0 <= clock_id <= 3:
        raise WasiError(Errno.INVAL, f"clock id {clock_id}")
    if clock_id >= 2 and not cpu_clocks:
        raise WasiError(Errno.BADF, "CPU-time clocks are not provided")


class SystemClock:
    """The host's real clocks (``time.*_ns``).

    ``now`` is a single tuple index plus one call: ``clock_time_get`` is the
    most frequent syscall of many guests, and this is all of its Python.

    The CPU-time clocks (ids 2 and 3) answer EBADF unless ``cpu_clocks`` is
    set: that is what wasmtime (the reference host) does, and a guest's CPU
    time would differ between record and replay anyway.
    """

    __slots__ = ("_fns", "cpu_clocks")

    def __init__(self, cpu_clocks: bool = False) -> None:
        self.cpu_clocks = cpu_clocks
        self._fns: tuple[Callable[[], int], ...] = (
            time.time_ns,
            time.monotonic_ns,
            time.process_time_ns if cpu_clocks else _no_cpu_clock,
            time.thread_time_ns if cpu_clocks else _no_cpu_clock,
        )

    def now(self, clock_id: int) -> int:
        try:
            return self._fns[clock_id]()
        except IndexError:
            raise WasiError(Errno.INVAL, f"clock id {clock_id}") from None

    def resolution(self, clock_id: int) -> int:
        _check_id(clock_id, self.cpu_clocks)
        if clock_id == 0:
            res = time.get_clock_info("time").resolution
        elif clock_id == 1:
            res = time.get_clock_info("monotonic").resolution
        elif clock_id == 2:
            res = time.get_clock_info("process_time").resolution
        else:
            res = time.get_clock_info("thread_time").resolution
        return max(1, round(res * 1e9))

    def sleep(self, ns: int) -> None:
        # time.sleep cannot take a u64 nanosecond count: a day at a time.
        while ns > 0:
            chunk = min(ns, 86_400 * 10**9)
            time.sleep(chunk / 1e9)
            ns -= chunk


class VirtualClock:
    """A deterministic clock for tests and reproducible runs.

    Every clock starts at its own fixed origin and moves only when ``sleep``
    or ``advance`` is called, or by ``tick`` nanoseconds after each ``now``
    call when ``tick`` is non-zero (so that busy loops measuring elapsed time
    terminate).  All clock ids advance together; the CPU-time ones answer
    EBADF unless ``cpu_clocks`` (as ``SystemClock``).
    """

    __slots__ = ("_elapsed", "_res", "cpu_clocks", "realtime_origin", "tick")

    def __init__(
        self,
        realtime_origin: int = 1_700_000_000_000_000_000,
        tick: int = 0,
        resolution: int = 1,
        cpu_clocks: bool = False,
    ) -> None:
        self._elapsed = 0
        self.realtime_origin = realtime_origin
        self.tick = tick
        self._res = resolution
        self.cpu_clocks = cpu_clocks

    def now(self, clock_id: int) -> int:
        if clock_id == 0:
            base = self.realtime_origin
        elif clock_id == 1:
            base = 0
        else:
            _check_id(clock_id, self.cpu_clocks)
            base = 0
        value = base + self._elapsed
        self._elapsed += self.tick
        return value

    def resolution(self, clock_id: int) -> int:
        _check_id(clock_id, self.cpu_clocks)
        return self._res

    def sleep(self, ns: int) -> None:
        if ns > 0:
            self._elapsed += ns

    def advance(self, ns: int) -> None:
        """Move every clock forward by ``ns`` (test helper)."""
        self.sleep(ns)

    @property
    def elapsed(self) -> int:
        return self._elapsed


@runtime_checkable
class RandomSource(Protocol):
    """Source of ``random_get`` bytes."""

    def bytes(self, length: int) -> bytes: ...


class SystemRandom:
    """Cryptographic randomness from the host (``os.urandom``)."""

    __slots__ = ()

    def bytes(self, length: int) -> bytes:
        return os.urandom(length)


class SeededRandom:
    """Deterministic bytes from a seed (not cryptographic; for tests and replays)."""

    __slots__ = ("_rng",)

    def __init__(self, seed: int | bytes | str = 0) -> None:
        import random  # here: importing it costs every start-up ~2 ms, used by tests only

        self._rng = random.Random(seed)

    def bytes(self, length: int) -> bytes:
        return self._rng.randbytes(length)


# Keep the ClockId import meaningful for readers: ids are its int values.
assert [c.value for c in ClockId] == [0, 1, 2, 3]
