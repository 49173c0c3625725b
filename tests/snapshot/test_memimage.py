"""Sparse and delta memory images round-trip exactly (property-tested)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wasi_rr.host.runtime import memimage
from wasi_rr.host.runtime.memimage import PAGE_SIZE, MemoryImageError, PageMap

# A memory: a size (not always page-aligned) and a few writes, mostly sparse.
writes = st.lists(
    st.tuples(st.integers(0, 40 * PAGE_SIZE), st.binary(min_size=1, max_size=3 * PAGE_SIZE)),
    max_size=8,
)


@st.composite
def memories(draw: st.DrawFn) -> bytes:
    size = draw(st.one_of(st.integers(0, 40 * PAGE_SIZE), st.sampled_from([65536, 2 * 65536])))
    buf = bytearray(size)
    for offset, data in draw(writes):
        if offset < size:
            chunk = data[: size - offset]
            buf[offset : offset + len(chunk)] = chunk
    return bytes(buf)


@st.composite
def modified(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` grown/shrunk a little, with some pages rewritten or zeroed."""
    size = max(0, len(base) + draw(st.integers(-3 * PAGE_SIZE, 3 * PAGE_SIZE)))
    buf = bytearray(base[:size].ljust(size, b"\0"))
    for offset, data in draw(writes):
        if offset < size:
            if draw(st.booleans()):
                data = bytes(len(data))  # clear a range (a page may become zero)
            chunk = data[: size - offset]
            buf[offset : offset + len(chunk)] = chunk
    return bytes(buf)


@settings(max_examples=150, deadline=None)
@given(memories())
def test_full_image_round_trip(memory: bytes) -> None:
    image = memimage.encode(memory)
    assert memimage.decode(image) == memory
    pages = memimage.decode_pages(image)
    assert pages == memimage.scan(memory)
    assert all(p.strip(b"\0") for p in pages.pages.values())  # only non-zero pages are kept


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_delta_image_round_trip(data: st.DataObject) -> None:
    base = data.draw(memories())
    new = data.draw(modified(base))
    image = memimage.encode(new, base)
    assert memimage.decode(image, base) == new
    # The base may be given as raw bytes or as a PageMap, either side.
    assert memimage.decode(memimage.encode(memimage.scan(new), memimage.scan(base)), base) == new


@settings(max_examples=100, deadline=None)
@given(memories(), memories())
def test_write_into_makes_a_dirty_memory_equal(memory: bytes, dirt: bytes) -> None:
    target = bytearray(dirt[: len(memory)].ljust(len(memory) + 100, b"\x5a"))
    memimage.write_into(memimage.scan(memory), memoryview(target))
    assert bytes(target[: len(memory)]) == memory
    assert target[len(memory) :] == b"\x5a" * 100  # nothing beyond the image is touched


@settings(max_examples=100, deadline=None)
@given(memories(), memories(), st.integers(0, 40 * PAGE_SIZE))
def test_write_into_with_known_zero_tail(memory: bytes, dirt: bytes, zero_from: int) -> None:
    zero_from = min(zero_from, len(memory)) // 65536 * 65536
    target = bytearray(dirt[:zero_from].ljust(len(memory), b"\0"))
    memimage.write_into(memimage.scan(memory), memoryview(target), zero_from=zero_from)
    assert bytes(target) == memory


def test_delta_stores_only_changed_pages() -> None:
    base = bytearray(64 * PAGE_SIZE)
    for page in range(0, 64, 2):
        base[page * PAGE_SIZE] = page + 1
    new = bytearray(base)
    new[5 * PAGE_SIZE + 9] = 0xFF
    full = memimage.encode(bytes(new))
    delta = memimage.encode(bytes(new), bytes(base))
    assert len(delta) < len(full)
    header = memimage._HEADER.unpack_from(delta)
    assert header[-1] == 1  # one page listed
    # A page that became zero is listed too (it differs from the base).
    new[4 * PAGE_SIZE] = 0
    header = memimage._HEADER.unpack_from(memimage.encode(bytes(new), bytes(base)))
    assert header[-1] == 2
    assert memimage.decode(memimage.encode(bytes(new), bytes(base)), bytes(base)) == bytes(new)


def test_wrong_base_or_corruption_is_detected() -> None:
    base = b"\1" * PAGE_SIZE + bytes(PAGE_SIZE)
    other = b"\2" * PAGE_SIZE + bytes(PAGE_SIZE)
    new = b"\1" * PAGE_SIZE + b"\3" * PAGE_SIZE
    image = memimage.encode(new, base)
    with pytest.raises(MemoryImageError, match="wrong base"):
        memimage.decode(image, other)
    with pytest.raises(MemoryImageError, match="without its base"):
        memimage.decode(image)
    with pytest.raises(MemoryImageError, match="magic"):
        memimage.decode(b"XXXX" + image[4:])
    with pytest.raises(MemoryImageError, match="truncated"):
        memimage.decode(image[:10])
    with pytest.raises(MemoryImageError, match="corrupt"):
        memimage.decode(image[:-4] + b"zzzz", base)


def test_pagemap_helpers() -> None:
    pm = memimage.scan(b"\0" * PAGE_SIZE + b"ab")
    assert pm.size == PAGE_SIZE + 2 and list(pm.pages) == [1]
    assert pm.page(0) == bytes(PAGE_SIZE) and pm.page(1) == b"ab" and pm.page(2) == b""
    assert pm == PageMap(PAGE_SIZE + 2, {1: b"ab"})
    assert pm.digest() == memimage.scan(pm.to_bytes()).digest()
    assert pm.digest() != memimage.scan(b"\0" * PAGE_SIZE + b"ac").digest()
