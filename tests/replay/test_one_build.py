"""One compiled build per module: ``run``, ``record``, ``replay`` and ``replay
--verify`` share the cached compilation of a module, so a replay right after a
record (on the same machine) loads the guest from the cache. The only thing
ever compiled for replay is the wasm replayer, generated for the whole signature
table: once per machine, then cached like any module, whatever guest comes next."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from wasi_rr.api import RunConfig, run
from wasi_rr.record import record
from wasi_rr.replay import replay


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, bytes]]:
    """Every way a wasmtime ``Module`` comes to exist (compiled from bytes, or
    loaded from the compiled-module cache), with an empty private cache."""
    monkeypatch.setenv("WASI_RR_CACHE_DIR", str(tmp_path / "cache"))
    seen: list[tuple[str, bytes]] = []
    real_init = wasmtime.Module.__init__

    def init(self: wasmtime.Module, engine: wasmtime.Engine, wasm: bytes | str) -> None:
        seen.append(("compile", wasm.encode() if isinstance(wasm, str) else bytes(wasm)))
        real_init(self, engine, wasm)

    monkeypatch.setattr(wasmtime.Module, "__init__", init)
    for name in ("deserialize", "deserialize_file"):
        real = getattr(wasmtime.Module, name)

        def load(cls: type, *args: object, _real: object = real, _name: str = name) -> object:
            seen.append(("load", b""))
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(wasmtime.Module, name, classmethod(load))
    return seen


def _config(wasm: Path) -> RunConfig:
    return RunConfig(module=wasm, args=["40", "/t"], tmpfs=["/t"], stdout=io.BytesIO(),
                     stderr=io.BytesIO())


def test_replay_and_verify_after_record_compile_nothing(
        guest: Callable[[str], Path], tmp_path: Path, made: list[str]) -> None:
    wasm = guest("bench_mixed")
    journal = tmp_path / "j.wrr"
    assert record(_config(wasm), journal).exit_code == 0
    guest_bytes = wasm.read_bytes()
    assert ("compile", guest_bytes) in made  # record compiled the guest
    del made[:]
    for verify in (False, True):
        out = io.BytesIO()
        result = replay(journal, verify=verify, stdout=out, stderr=io.BytesIO())
        assert result.exit_code == 0 and result.divergence is None
        assert out.getvalue() == b"rounds 40 bytes 1490 entries 36\n"
    compiled = [w for kind, w in made if kind == "compile"]
    assert guest_bytes not in compiled
    # at most the replayer, generated for this import set
    assert len(compiled) <= 1 and all(
        w.startswith(b"(module $wasi-rr-replayer") for w in compiled), [w[:40] for w in compiled]
    assert ("load", b"") in made
    del made[:]
    for _ in range(2):  # now nothing at all compiles: run, replay, verify
        assert run(_config(wasm)).exit_code == 0
        assert replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO()).exit_code == 0
        assert replay(journal, verify=True, stdout=io.BytesIO(),
                      stderr=io.BytesIO()).exit_code == 0
    assert made and all(kind == "load" for kind, _ in made), made


def test_a_new_guest_replays_without_compiling(
        guest: Callable[[str], Path], tmp_path: Path, made: list[str]) -> None:
    """The replayer and the stub do not depend on the guest's imports: once any
    guest was replayed, a guest with another import set replays right after its
    record compiling nothing."""
    first, second = guest("bench_mixed"), guest("random")
    for wasm in (first, second):
        journal = tmp_path / f"{wasm.stem}.wrr"
        assert record(RunConfig(module=wasm, args=["3", "/t"], tmpfs=["/t"],
                                stdout=io.BytesIO(), stderr=io.BytesIO()), journal).exit_code == 0
        del made[:]
        result = replay(journal, stdout=io.BytesIO(), stderr=io.BytesIO())
        assert result.exit_code == 0 and result.divergence is None
        if wasm is second:
            assert made and all(kind == "load" for kind, _ in made), [w[:40] for _, w in made]
