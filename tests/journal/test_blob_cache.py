"""The embedded module's frame is kept in the blob cache (``ModuleCache``) and
written as it is by the next recording of the same module; a damaged cache entry
is never copied into a journal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from journal_helpers import write_stream

from wasi_rr.host.runtime.modcache import ModuleCache
from wasi_rr.journal import JournalCorrupt, open_journal

MODULE = b"\x00asm\x01\x00\x00\x00" + bytes(range(256)) * 64
SHA = hashlib.sha256(MODULE).hexdigest()


def _module_frame(path: Path) -> bytes:
    """The BLOB frame as it is on disk (the one after the header frame)."""
    with open_journal(path) as r:
        assert r.module_bytes() == MODULE
        start = r._body_offset  # the frame's place is what is tested
    data = path.read_bytes()
    entry = ModuleCache(path.parent / "cache").blob_path(SHA).read_bytes()
    assert data[start:start + len(entry)] == entry
    return entry


def test_second_recording_writes_the_cached_frame(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path / "cache")
    write_stream(tmp_path / "a.wrr", [], module=MODULE, blob_cache=cache)
    first = _module_frame(tmp_path / "a.wrr")
    write_stream(tmp_path / "b.wrr", [], module=MODULE, blob_cache=cache)
    assert _module_frame(tmp_path / "b.wrr") == first


def test_the_cached_frame_is_what_gets_written(tmp_path: Path) -> None:
    """A valid frame of another module under this SHA-256 is copied as it is
    (proving the cache is used); reading the journal then finds the mismatch."""
    cache = ModuleCache(tmp_path / "cache")
    other = ModuleCache(tmp_path / "other")
    write_stream(tmp_path / "o.wrr", [], module=MODULE[:-1], blob_cache=other)
    foreign = other.blob_path(hashlib.sha256(MODULE[:-1]).hexdigest()).read_bytes()
    cache.store_blob(SHA, foreign)
    write_stream(tmp_path / "a.wrr", [], module=MODULE, blob_cache=cache)
    with open_journal(tmp_path / "a.wrr") as r, pytest.raises(JournalCorrupt):
        r.module_bytes()


@pytest.mark.parametrize("damage", ["payload_bit", "header_bit", "truncated", "empty", "junk"])
def test_a_damaged_entry_is_ignored_and_replaced(tmp_path: Path, damage: str) -> None:
    cache = ModuleCache(tmp_path / "cache")
    write_stream(tmp_path / "a.wrr", [], module=MODULE, blob_cache=cache)
    good = _module_frame(tmp_path / "a.wrr")
    bad = bytearray(good)
    if damage == "payload_bit":
        bad[-5] ^= 0x10
    elif damage == "header_bit":
        bad[9] ^= 0x01
    elif damage == "truncated":
        del bad[-100:]
    elif damage == "empty":
        bad = bytearray()
    else:
        bad = bytearray(b"junk" * 20)
    cache.store_blob(SHA, bytes(bad))
    write_stream(tmp_path / "b.wrr", [], module=MODULE, blob_cache=cache)
    assert _module_frame(tmp_path / "b.wrr") == good  # rewritten from the module itself
