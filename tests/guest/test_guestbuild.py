"""The corpus build helper: content-keyed cache, clear errors, concurrent builds."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import guestbuild


def test_build_is_cached_by_content(tmp_path: Path) -> None:
    first = guestbuild.build("exit_code", cache_dir=tmp_path)
    assert first.read_bytes().startswith(b"\0asm")
    assert first.name == f"{guestbuild.cache_key('exit_code')}.wasm"
    mtime = first.stat().st_mtime_ns
    assert guestbuild.build("exit_code", cache_dir=tmp_path) == first
    assert first.stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_cache_key_covers_source_and_shared_headers() -> None:
    keys = {guestbuild.cache_key(name) for name in ("exit_code", "trap", "args_env")}
    assert len(keys) == 3


def test_concurrent_builds_of_one_guest_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(lambda _: guestbuild.build("trap", cache_dir=tmp_path), range(3)))
    assert len(set(paths)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [paths[0].name]  # no temp leftovers


def test_unknown_guest_is_a_clear_error() -> None:
    with pytest.raises(guestbuild.GuestBuildError, match="no corpus guest named 'nope'"):
        guestbuild.build("nope")


def test_compile_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.c").write_text("int main(void) { return undeclared; }\n")
    monkeypatch.setattr(guestbuild, "CORPUS", corpus)
    with pytest.raises(guestbuild.GuestBuildError, match=r"building broken\.c failed"):
        guestbuild.build("broken", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())
