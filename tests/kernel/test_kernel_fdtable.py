"""The fd-number allocator: a state machine against a naive model, and a
table of 100k fds opened and closed through the kernel."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from kernel_helpers import ALL, make_kernel

from wasi_rr.host.kernel.fdtable import FdTable
from wasi_rr.host.kernel.wasi_types import Errno, OFlags, WasiError

MAX_FDS = 64


class FakeDescription:
    """What ``FdTable`` needs of a description: a reference count and release."""

    stdio_slot = 0

    def __init__(self) -> None:
        self.refs = 0
        self.released = 0
        self.installed = False

    def release(self) -> None:
        self.released += 1


def naive_lowest(fds: dict[int, FakeDescription], minimum: int) -> int:
    fd = minimum
    while fd in fds:
        fd += 1
    return fd


class FdTableMachine(RuleBasedStateMachine):
    """Several processes (forks) each with a table and a model dict; every
    description records its releases, which must happen exactly when its last
    fd over all tables closes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables = [FdTable(MAX_FDS)]
        self.models: list[dict[int, FakeDescription]] = [{}]
        self.descs: list[FakeDescription] = []

    def _pick(self, proc: int) -> tuple[FdTable, dict[int, FakeDescription]]:
        i = proc % len(self.tables)
        return self.tables[i], self.models[i]

    def _expect(self, model: dict[int, FakeDescription], minimum: int) -> int | None:
        fd = naive_lowest(model, minimum)
        return fd if fd < MAX_FDS else None

    def _install(self, table: FdTable, model: dict[int, FakeDescription], desc: FakeDescription,
                 minimum: int) -> None:
        want = self._expect(model, minimum)
        try:
            got = table.install(desc, minimum=minimum)  # type: ignore[arg-type]
        except WasiError as err:
            assert err.errno is Errno.MFILE and want is None
            return
        assert got == want
        model[got] = desc
        desc.installed = True

    @rule(proc=st.integers(0, 7))
    def open(self, proc: int) -> None:
        table, model = self._pick(proc)
        desc = FakeDescription()
        self.descs.append(desc)
        self._install(table, model, desc, 0)

    @rule(proc=st.integers(0, 7), which=st.integers(0, 100), minimum=st.integers(0, MAX_FDS + 4))
    def dup2(self, proc: int, which: int, minimum: int) -> None:
        table, model = self._pick(proc)
        if model:
            self._install(table, model, model[sorted(model)[which % len(model)]], minimum)

    @rule(proc=st.integers(0, 7), fd=st.integers(0, MAX_FDS + 2))
    def close(self, proc: int, fd: int) -> None:
        table, model = self._pick(proc)
        try:
            table.close(fd)
        except WasiError as err:
            assert err.errno is Errno.BADF and fd not in model
            return
        del model[fd]

    @rule(proc=st.integers(0, 7), a=st.integers(0, MAX_FDS), b=st.integers(0, MAX_FDS))
    def renumber(self, proc: int, a: int, b: int) -> None:
        table, model = self._pick(proc)
        try:
            table.renumber(a, b)
        except WasiError as err:
            assert err.errno is Errno.BADF and (a not in model or b not in model)
            return
        if a != b:
            model[b] = model.pop(a)

    @precondition(lambda self: len(self.tables) < 4)
    @rule(proc=st.integers(0, 7))
    def fork(self, proc: int) -> None:
        table, model = self._pick(proc)
        self.tables.append(table.fork())
        self.models.append(dict(model))

    @rule(proc=st.integers(0, 7), minimum=st.integers(0, MAX_FDS + 4))
    def query(self, proc: int, minimum: int) -> None:
        table, model = self._pick(proc)
        want = self._expect(model, minimum)
        try:
            assert table.lowest_free(minimum) == want
        except WasiError as err:
            assert err.errno is Errno.MFILE and want is None

    @invariant()
    def tables_match_models(self) -> None:
        for table, model in zip(self.tables, self.models, strict=True):
            assert table.fds == model

    @invariant()
    def released_exactly_when_unreferenced(self) -> None:
        counts: dict[int, int] = {}
        for model in self.models:
            for desc in model.values():
                counts[id(desc)] = counts.get(id(desc), 0) + 1
        for desc in self.descs:
            held = counts.get(id(desc), 0)
            assert desc.refs == held
            assert desc.released == (1 if desc.installed and not held else 0)


TestFdTableMachine = FdTableMachine.TestCase
TestFdTableMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


def test_released_once_when_the_last_fd_closes() -> None:
    table = FdTable()
    desc = FakeDescription()
    fd = table.install(desc)  # type: ignore[arg-type]
    child = table.fork()
    dup = table.install(desc, minimum=5)  # type: ignore[arg-type]
    assert dup == 5
    table.close(fd)
    table.close(dup)
    assert desc.released == 0  # the child still holds it
    child.close(fd)
    assert desc.released == 1


def test_hundred_thousand_opens_and_closes() -> None:
    """Not timed: with a scan for the lowest free fd this took minutes."""
    k = make_kernel()
    try:
        first = k.path_open(3, 0, "f", int(OFlags.CREAT), ALL, ALL, 0)
        fds = [k.path_open(3, 0, "f", 0, ALL, ALL, 0) for _ in range(100_000)]
        assert fds == list(range(first + 1, first + 100_001))
        for fd in fds[::2]:
            k.fd_close(fd)
        assert k.fd_dup(first) == first + 1  # the lowest hole is reused first
        for fd in fds[1::2]:
            k.fd_close(fd)
        assert k.fd_dup2(first, 50_000, 0) == 50_000
        assert k.fd_dup(first) == first + 2
    finally:
        k.fs.close()
