"""Seeded random file-system workloads, wasi-rr vs wasmtime's WASI, byte for byte.

``corpus/fs_fuzz.c`` turns a seed into a few hundred mixed file-system
operations over a tiny name space and prints every result, so two hosts that
implement the same semantics print the same transcript. Each seed runs on a
host-directory mount and on a tmpfs; the host directory's final contents must
also be identical.

The full workload runs (the corners it first found are pinned one by one in
``test_guest_corners.py``). ``MODE: list[str] = []`` steers clear of those corners,
should a future host change need the rest compared while one is being fixed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guestrun import Invocation, run_reference, run_wasi_rr, tree

SEEDS = range(1, 17)
STEPS = "300"
MODE: list[str] = []


def _first_difference(a: bytes, b: bytes) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False)):
        if x != y:
            return f"line {i}: wasi-rr {x!r} vs wasmtime {y!r}"
    return "lengths differ"


@pytest.mark.parametrize("mount", ["dir", "tmpfs"])
@pytest.mark.parametrize("seed", SEEDS)
def test_fs_fuzz_matches_reference(
    seed: int, mount: str, guest: Callable[[str], Path], tmp_path: Path
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    if mount == "dir":
        inv = Invocation(guest("fs_fuzz"), args=[str(seed), STEPS, "/data", *MODE],
                         dirs=[(host, "/data")])
    else:
        inv = Invocation(guest("fs_fuzz"), args=[str(seed), STEPS, "/tmp", *MODE],
                         tmpfs=["/tmp"])
    ref_scratch, rr_scratch = tmp_path / "ref", tmp_path / "rr"
    ref_scratch.mkdir()
    rr_scratch.mkdir()
    reference = run_reference(inv, ref_scratch)
    ours = run_wasi_rr(inv, rr_scratch)
    assert (reference.exit_code, reference.trapped) == (0, False), reference.stderr
    assert reference.stdout.count(b"\n") == int(STEPS) + 2
    assert ours.stdout == reference.stdout, _first_difference(ours.stdout, reference.stdout)
    assert (ours.stderr, ours.exit_code, ours.trapped) == (b"", 0, False)
    if mount == "dir":
        assert tree(rr_scratch / "dir0") == tree(ref_scratch / "dir0")
