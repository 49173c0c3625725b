"""``poll_oneoff``: every subscription that is ready now, else a wait for the
earliest clock deadline (or for stdin), through the injected clock."""

from __future__ import annotations

from .base import KernelBase
from .fd import ready
from .streams import wait_readable
from .wasi_types import Errno, Event, EventType, SubclockFlags, Subscription, WasiError

__all__ = ["PollCalls"]

_Timer = tuple[int, int, Subscription]  # (ns until the deadline, index, subscription)
_Waiter = tuple[int, Subscription, int]  # (index, subscription, host fd to wait on)


class PollCalls(KernelBase):
    def poll_oneoff(self, subscriptions: list[Subscription]) -> list[Event]:
        """Report every subscription that is ready now; if none is, wait for
        the earliest clock deadline (or stdin) and report what then fired.

        As in wasmtime, a subscription that can never be served fails the
        whole call: EBADF for an fd (``Description.poll``), EINVAL for a clock
        that does not exist or is not provided."""
        if not subscriptions:
            raise WasiError(Errno.INVAL, "no subscriptions")
        events: list[tuple[int, Event]] = []
        timers: list[_Timer] = []
        waiters: list[_Waiter] = []
        for i, sub in enumerate(subscriptions):
            t = sub.type
            if t == EventType.CLOCK:
                remaining = self._remaining(sub)
                if remaining <= 0:
                    events.append((i, Event(sub.userdata, Errno.SUCCESS, EventType.CLOCK)))
                else:
                    timers.append((remaining, i, sub))
            elif t == EventType.FD_READ or t == EventType.FD_WRITE:
                desc = self._fds.get(sub.fd)
                if desc is None:
                    raise WasiError(Errno.BADF, f"poll on closed fd {sub.fd}")
                event, fileno = desc.poll(sub)
                if event is not None:
                    events.append((i, event))
                elif fileno is not None:
                    waiters.append((i, sub, fileno))
            else:
                raise WasiError(Errno.INVAL, "bad subscription type")
        if not events:
            events = self._wait(timers, waiters)
        events.sort(key=lambda p: p[0])
        return [e for _, e in events]

    def _remaining(self, sub: Subscription) -> int:
        """ns until a clock subscription's deadline (<= 0: due)."""
        try:
            now = self._now(sub.clock_id)
        except WasiError:
            # wasmtime fails the whole call for a clock it does not provide.
            raise WasiError(Errno.INVAL, f"clock id {sub.clock_id}") from None
        if sub.flags & SubclockFlags.SUBSCRIPTION_CLOCK_ABSTIME:
            return sub.timeout - now
        return sub.timeout

    def _wait(self, timers: list[_Timer], waiters: list[_Waiter]) -> list[tuple[int, Event]]:
        """Nothing is ready: wait on stdin (``select``) up to the earliest
        deadline, or sleep on the injected clock until it."""
        first = min(r for r, _, _ in timers) if timers else None
        if waiters:
            readable = wait_readable([f for _, _, f in waiters], first)
            fired = [(i, ready(sub, 1)) for i, sub, f in waiters if f in readable]
            if fired or first is None:
                return fired
        elif first is None:
            # Only pipes that nobody else can fill in this single-threaded host.
            raise WasiError(Errno.AGAIN, "poll_oneoff would block forever")
        else:
            self.clock.sleep(first)
        return [
            (i, Event(s.userdata, Errno.SUCCESS, EventType.CLOCK))
            for r, i, s in timers
            if r <= first
        ]
