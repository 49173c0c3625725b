"""The conformance guests also record and replay: ``wasi-rr record`` through the
CLI (as ``run`` in the suite's layout), then ``wasi-rr replay`` from the journal
alone must reproduce stdout and the exit status exactly.

(``replay --verify`` is not asserted here: it rebuilds host-mounted directories
without their host size and timestamps, so a recorded stat of a mounted
directory re-executes as size 0, times 0; reported to the replay owner.)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guestrun import copy_tree
from suite_run import WASI_RR
from test_wts_programs import PROGRAMS, SELF_CHECKING, make_test_dir


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


@pytest.mark.parametrize("name", sorted([*PROGRAMS, *SELF_CHECKING]))
def test_record_then_replay(name: str, guest: Callable[[str], Path], tmp_path: Path) -> None:
    module = guest(name)
    with tempfile.TemporaryDirectory(prefix="wts-rec-") as tmp:
        work = Path(tmp) / "t"
        copy_tree(make_test_dir(tmp_path), work)
        journal = Path(tmp) / "run.wrr"
        rec = _run(
            [str(WASI_RR), "record", "-o", str(journal), "--dir", "fs-tests.dir::/", str(module)],
            work,
        )
        assert rec.returncode == 0, rec.stderr.decode()
        rep = _run([str(WASI_RR), "replay", str(journal)], Path(tmp))
        assert (rep.stdout, rep.returncode) == (rec.stdout, rec.returncode), rep.stderr.decode()
