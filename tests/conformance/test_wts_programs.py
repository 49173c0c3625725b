"""Every wasi-testsuite area (corpus/wts_*.c) gives the same results under the
``wasi-rr run`` command line as under wasmtime's built-in WASI.

Each program runs the way the suite's runner runs a test: a working directory
holding ``fs-tests.dir``, preopened either as ``/`` (the suite's newest layout,
``HOST::/``) or under its own relative name (the older ``--dir fs-tests.dir``
layout, with the name passed as argv[1]). Exit status, stdout and the files left
behind must match the reference exactly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite_run import SuiteCase, run_cli, run_ref

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SELF_CHECKING = {"wts_rights"}
"""Guests that check the suite's assertions themselves because the reference
skips them: wasmtime has no rights (fd_fdstat_set_rights is ENOTSUP)."""
PROGRAMS = sorted(p.stem for p in CORPUS.glob("wts_*.c") if p.stem not in SELF_CHECKING)

LAYOUTS = {
    "root": ([("fs-tests.dir", "/")], []),
    "named": ([("fs-tests.dir", "fs-tests.dir")], ["fs-tests.dir"]),
}


def make_test_dir(base: Path) -> Path:
    """A test directory as the suite ships it: an ``fs-tests.dir`` with fixtures."""
    test_dir = base / "testdir"
    fs = test_dir / "fs-tests.dir"
    fs.mkdir(parents=True)
    (fs / "lseek.txt").write_bytes(b"0123456789abcdef")
    (fs / "pread.txt").write_bytes(b"pread fixture\n")
    return test_dir


RIGHTS_AREAS = ["set_rights", "truncation", "read_rights", "link_rights"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_rights_areas_pass_where_rights_are_supported(
    layout: str, guest: Callable[[str], Path], tmp_path: Path
) -> None:
    """wasi-rr implements rights, so it runs the suite's rights checks (which the
    suite skips on wasmtime) and must pass every one of them."""
    dirs, args = LAYOUTS[layout]
    case = SuiteCase(module=guest("wts_rights"), args=args, dirs=dirs)
    test_dir = make_test_dir(tmp_path)
    ours, ref = run_cli(case, test_dir), run_ref(case, test_dir)
    lines = ours.stdout.decode().splitlines()
    assert [ln for ln in lines if "cleanup:" in ln] == [
        f"{area}.cleanup: checked, passed" for area in RIGHTS_AREAS
    ]
    assert not [ln for ln in lines if ln.startswith("FAIL")]
    assert ours.exit_code == 0
    assert ref.exit_code == 0 and b"rights not supported, skipped" in ref.stdout
    assert ours.left_behind == ref.left_behind


def test_programs_exist() -> None:
    assert len(PROGRAMS) >= 10


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", PROGRAMS)
def test_same_as_wasmtime(
    name: str, layout: str, guest: Callable[[str], Path], tmp_path: Path
) -> None:
    dirs, args = LAYOUTS[layout]
    case = SuiteCase(module=guest(name), args=args, dirs=dirs)
    test_dir = make_test_dir(tmp_path)
    ours, ref = run_cli(case, test_dir), run_ref(case, test_dir)
    assert ours.stdout.decode() == ref.stdout.decode()
    assert ours.exit_code == ref.exit_code == 0
    assert ours.left_behind == ref.left_behind
