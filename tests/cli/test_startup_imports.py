"""Start-up is most of a short run (``bench/startup.py``: ``wasi-rr run`` of a
trivial guest against ``import wasmtime``), so ``run`` must not import what only
other commands, big modules or ``--help`` need. Each module named here once
slipped into every start-up through a top-level import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import wasmtime

TRIVIAL = """(module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))
  (memory (export "memory") 1) (func (export "_start") (call $e (i32.const 0))))"""

NOT_AT_START_UP = {
    "hashlib": "OpenSSL; only a module big enough for the compiled-module cache is hashed",
    "tempfile": "with shutil, bz2 and lzma; only writing a cache entry needs it",
    "shutil": "argparse's help formatter asks it for the terminal width",
    "random": "only seeded test randomness uses it",
    "zstandard": "the journal: record and replay only",
    "msgpack": "the journal: record and replay only",
    "wasi_rr.journal": "record and replay only",
    "wasi_rr.record": "record only",
    "wasi_rr.replay": "replay only",
    "wasi_rr.host.runtime.instrument": "snapshots and WASIX processes only",
    "importlib.metadata": "plugins and --version only",
}


def test_run_of_a_trivial_guest_imports_only_what_it_needs(tmp_path: Path) -> None:
    wasm = tmp_path / "trivial.wasm"
    wasm.write_bytes(wasmtime.wat2wasm(TRIVIAL))
    code = (
        "import sys\n"
        "from wasi_rr.cli import main\n"
        f"status = main(['run', {str(wasm)!r}])\n"
        "print(status, ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out[0] == "0"
    loaded = set(out[1:])
    assert "wasmtime" in loaded  # the probe sees what it should
    wrong = {name: why for name, why in NOT_AT_START_UP.items() if name in loaded}
    assert not wrong, wrong
