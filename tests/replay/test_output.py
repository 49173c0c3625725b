"""Replayed stdout/stderr: byte for byte, in call order, whichever path answers.

The recorder marks each call whose bytes reached stdout or stderr (the live
kernel knows which fds are its consoles, so renumbered and dup'ed ones count
and a file renumbered onto fd 1 does not); replay prints those bytes, cut to
the count the call answered. The wasm replayer buffers them in an output area
that Python empties whenever it is entered: these tests check the order
survives that, with outputs larger than the area.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from replay_helpers import record_guest

from wasi_rr.journal import Call, open_journal
from wasi_rr.replay import replay
from wasi_rr.replay.output import STREAM_BIT, Output


class Interleaved(io.BytesIO):
    """One buffer for both streams, tagging each write (to check the order)."""

    def __init__(self, log: list[tuple[str, bytes]], tag: str) -> None:
        super().__init__()
        self.log, self.tag = log, tag

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.log.append((self.tag, bytes(data)))
        return len(data)


def _merged(log: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Consecutive writes to the same stream joined (chunking may differ)."""
    out: list[tuple[str, bytes]] = []
    for tag, data in log:
        if out and out[-1][0] == tag:
            out[-1] = (tag, out[-1][1] + data)
        elif data:
            out.append((tag, data))
    return out


@pytest.fixture(scope="module")
def recorded(guest: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> object:
    tmp = tmp_path_factory.mktemp("stdio")
    return record_guest(guest("stdio_mix"), tmp / "mix.wrr", args=["60"], tmpfs=["/tmp"])


@pytest.mark.parametrize("fast", [True, False], ids=["wasm", "python"])
def test_replayed_output_is_the_recorded_output(recorded: object, fast: bool) -> None:
    out, err = io.BytesIO(), io.BytesIO()
    result = replay(recorded.journal, stdout=out, stderr=err, fast=fast)  # type: ignore[attr-defined]
    assert result.ok and result.exit_code == 0
    assert out.getvalue() == recorded.stdout  # type: ignore[attr-defined]
    assert err.getvalue() == recorded.stderr  # type: ignore[attr-defined]
    assert b"into the file" not in out.getvalue()
    assert b"stdout now at fd 6" in out.getvalue() and b"via dup of stderr" in err.getvalue()
    assert b"write to closed fd: EBADF" in out.getvalue()
    assert len(out.getvalue()) > 64 * 1024  # more than the replayer's output area


def test_interleaving_is_the_same_on_both_paths(recorded: object) -> None:
    logs = []
    for fast in (True, False):
        log: list[tuple[str, bytes]] = []
        replay(recorded.journal, stdout=Interleaved(log, "out"),  # type: ignore[attr-defined]
               stderr=Interleaved(log, "err"), fast=fast)
        logs.append(_merged(log))
    assert logs[0] == logs[1]
    assert [tag for tag, _ in logs[0][:4]] == ["out", "err", "out", "err"]


def test_only_stdio_calls_are_marked(recorded: object) -> None:
    with open_journal(recorded.journal) as r:  # type: ignore[attr-defined]
        calls = [e for e in r if isinstance(e, Call) and e.name == "fd_write"]
    marked = {(c.params[0], c.stdio) for c in calls if c.stdio}
    assert (6, 1) in marked and (1, 1) in marked and (2, 2) in marked and (4, 2) in marked
    assert all(c.stdio == 0 for c in calls if c.params[0] == 1 and b"into the file"
               in b"".join(d for _, d in c.inputs if isinstance(d, bytes)))
    assert all(c.stdio == 0 for c in calls if c.params[0] == 42)


def test_output_area_chunks_are_decoded_in_order() -> None:
    area = (struct.pack("<I", 3) + b"abc" + struct.pack("<I", 2 | STREAM_BIT) + b"de"
            + struct.pack("<I", 1) + b"f")
    out, err = io.BytesIO(), io.BytesIO()
    Output(out, err).flush_area(area, len(area))
    assert (out.getvalue(), err.getvalue()) == (b"abcf", b"de")
